// medgemma-server's configuration: a YAML file (config/server.yaml) with command-line overrides.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "engine/image_decoder.h"
#include "engine/task.h"
#include "rpc/credentials.h"

namespace medgemma::server {

struct BatchingConfig {
  int max_batch_size = 8;
  int64_t max_queue_delay_us = 2000;
  std::vector<int> preferred_batch_sizes;
  int max_queue_size = 256;
  int preprocess_threads = 0;  // 0: one per core
};

struct AdapterSpec {
  std::string name, path;
};

struct ServerConfig {
  std::string model_dir;
  std::string model_id;  // defaults to the model directory's name
  std::string device = "auto", dtype = "auto", attention = "auto";
  std::string listen = "127.0.0.1:8500";
  std::string metrics_listen = "127.0.0.1:9500";  // empty: no metrics endpoint
  Task task = DefaultBreakHisTask();
  BatchingConfig batching;
  std::string adapters_dir;              // every subdirectory with an adapter_config.json loads at start
  std::vector<AdapterSpec> adapters;     // plus these
  std::string default_adapter;           // empty: the base model
  std::vector<std::string> adapter_roots;  // LoadAdapter paths must lie under one of these (default: adapters_dir)
  ImageLimits image_limits;
  int64_t max_message_bytes = 64ll << 20;
  rpc::TlsFiles tls;
  std::string auth_tokens_file;
  std::string auth_tokens_env = "MEDGEMMA_AUTH_TOKENS";
  int shutdown_grace_seconds = 30;

  absl::Status Validate() const;
};

absl::StatusOr<ServerConfig> ParseServerConfig(const std::string& yaml_text);
// --config FILE first, then --model, --listen, --metrics-listen, --device, --dtype, --adapters-dir,
// --adapter-root (repeatable), --default-adapter, --auth-tokens-file override it.
absl::StatusOr<ServerConfig> ServerConfigFromArgs(const std::vector<std::string>& argv);

}  // namespace medgemma::server
