// medgemma-trainer's configuration: a YAML file (config/trainer.yaml) with command-line overrides.
// The model, endpoint, TLS, auth and logging settings are the ones every service has
// (rpc::ServiceConfig); the rest is the trainer's own.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "engine/task.h"
#include "engine/training/training_options.h"
#include "base/flags.h"
#include "base/log.h"
#include "rpc/credentials.h"
#include "rpc/service_config.h"
#include "trainer/fine_tune_request.h"

namespace medgemma::trainer {

struct TrainerConfig : rpc::ServiceConfig {
  TrainerConfig() {
    listen = "127.0.0.1:8600";
    metrics_listen = "127.0.0.1:9600";
    auth_tokens_env = "MEDGEMMA_TRAINER_TOKENS";
    shutdown_grace_seconds = 10;
  }

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

  absl::Status Validate() const;
  // Every setting as log fields, secrets left out.
  std::vector<LogField> LogFields() const;
  // What fine-tune requests are resolved against: task, defaults, data roots, whether promotion can happen.
  FineTuneContext fine_tune_context() const;
};

absl::StatusOr<TrainerConfig> ParseTrainerConfig(const std::string& yaml_text);
// medgemma-trainer's flags: rpc::ServiceFlags() plus --state-dir, --data-root and --server.
const FlagSet& TrainerFlags();
// --config FILE first, then the other flags override it. --help and --version end it with a status
// for which IsHelpOrVersion holds.
absl::StatusOr<TrainerConfig> TrainerConfigFromArgs(const std::vector<std::string>& argv);

}  // namespace medgemma::trainer
