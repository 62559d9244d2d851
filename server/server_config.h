// medgemma-server's configuration: a YAML file (config/server.yaml) with command-line overrides.
// The model, endpoint, TLS, auth and logging settings are the ones every service has
// (rpc::ServiceConfig); the rest is the server's own.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "base/flags.h"
#include "base/log.h"
#include "engine/image_decoder.h"
#include "engine/task.h"
#include "rpc/service_config.h"
#include "server/assistant/assistant_config.h"

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

// LoadAdapter's own worker (AdapterLoader): how many loads may wait, and how long one may take.
struct AdapterLoadingConfig {
  int max_waiting = 4;
  int timeout_seconds = 120;
};

struct ServerConfig : rpc::ServiceConfig {
  ServerConfig() {
    listen = "127.0.0.1:8500";
    metrics_listen = "127.0.0.1:9500";
    auth_tokens_env = "MEDGEMMA_AUTH_TOKENS";
    shutdown_grace_seconds = 30;
  }

  // Where AdapterAdmin is served, with Classifier, apart from `listen` (which then serves
  // Classifier alone), so that a network policy can keep clients from it; empty: on `listen`.
  std::string admin_listen;
  // HTTP/JSON (server/http_endpoint.h): the Open Inference Protocol's REST endpoints and
  // POST /v1/classify, with the same TLS, tokens and limits; empty: none.
  std::string http_listen;
  // Its worker threads: each holds one request until the batcher answers (up to 60 s), health
  // probes included, so at least the requests meant to share a batch, plus a few.
  int http_threads = 64;
  Task task = DefaultBreakHisTask();
  BatchingConfig batching;
  std::string adapters_dir;              // every subdirectory with an adapter_config.json loads at start
  std::vector<AdapterSpec> adapters;     // plus these
  std::string default_adapter;           // empty: the base model
  std::vector<std::string> adapter_roots;  // LoadAdapter paths must lie under one of these or adapters_dir
  AdapterLoadingConfig adapter_loading;
  ImageLimits image_limits;
  // Bytes that requests in flight may hold (ClassificationPipeline::RequestBytes): all of them
  // together (beyond: RESOURCE_EXHAUSTED), and one stream's (beyond: the stream is not read until
  // some of its requests have been answered, so a fast client waits instead of filling memory).
  int64_t max_inflight_bytes = int64_t{1} << 30;
  int64_t max_stream_inflight_bytes = int64_t{256} << 20;
  // The Assistant's system prompt, disclaimer and guardrail rules file (`assistant:`).
  assistant::AssistantConfig assistant;

  absl::Status Validate() const;
  // adapter_roots plus adapters_dir: what is loaded at start may be loaded again. Empty: any path.
  std::vector<std::string> AllowedAdapterRoots() const;
  // Every setting as log fields, secrets left out.
  std::vector<LogField> LogFields() const;
};

absl::StatusOr<ServerConfig> ParseServerConfig(const std::string& yaml_text);
// medgemma-server's flags: rpc::ServiceFlags() plus the adapter flags.
const FlagSet& ServerFlags();
// --config FILE first, then the other flags override it. --help and --version end it with a status
// for which IsHelpOrVersion holds.
absl::StatusOr<ServerConfig> ServerConfigFromArgs(const std::vector<std::string>& argv);

}  // namespace medgemma::server
