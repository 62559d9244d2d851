// medgemma-trainer's configuration: a YAML file (config/trainer.yaml) with command-line overrides.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "engine/task.h"
#include "engine/training/training_options.h"
#include "rpc/credentials.h"

namespace medgemma::trainer {

struct TrainerConfig {
  std::string model_dir;
  std::string device = "auto", dtype = "auto", attention = "auto";
  std::string listen = "127.0.0.1:8600";
  std::string metrics_listen = "127.0.0.1:9600";  // empty: no metrics endpoint
  std::string state_dir = "build/demo/trainer";    // jobs.db and one directory per job
  std::vector<std::string> data_roots;             // every dataset path must lie under one of these
  int max_queued_jobs = 64;                        // beyond it StartFineTune answers RESOURCE_EXHAUSTED
  Task task = DefaultBreakHisTask();
  TrainingOptions defaults;                        // what zero/empty request fields mean

  // Promotion targets: medgemma-server replicas (host:port), reached with an admin token from a
  // file or environment variable and, when given, TLS.
  std::vector<std::string> servers;
  std::string server_token_file;
  std::string server_token_env = "MEDGEMMA_ADMIN_TOKEN";
  rpc::TlsFiles server_tls;

  rpc::TlsFiles tls;  // the trainer's own endpoint
  std::string auth_tokens_file;
  std::string auth_tokens_env = "MEDGEMMA_TRAINER_TOKENS";
  int shutdown_grace_seconds = 10;

  absl::Status Validate() const;
};

absl::StatusOr<TrainerConfig> ParseTrainerConfig(const std::string& yaml_text);
// --config FILE first, then --model, --listen, --metrics-listen, --state-dir, --device, --dtype,
// --data-root (repeatable) and --server HOST:PORT (repeatable) override it.
absl::StatusOr<TrainerConfig> TrainerConfigFromArgs(const std::vector<std::string>& argv);

}  // namespace medgemma::trainer
