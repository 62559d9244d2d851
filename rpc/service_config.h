// The settings every medgemma service has (medgemma-server and medgemma-trainer embed this struct
// in theirs): the model, the gRPC and metrics endpoints, TLS, bearer-token auth, the shutdown
// grace period and the log level. Read from the same YAML keys and overridden by the same flags in
// both services. Device, dtype and attention stay strings here: the engine parses them (rpc does
// not depend on the engine).
#pragma once

#include <absl/status/statusor.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/audit_log.h"
#include "base/flags.h"
#include "base/log.h"
#include "rpc/credentials.h"

namespace medgemma::rpc {

struct ServiceConfig {
  std::string model_dir;
  std::string model_id;  // defaults to the model directory's name
  std::string device = "auto", dtype = "auto", attention = "auto";
  std::string listen;
  std::string metrics_listen;  // empty: no metrics endpoint
  // A plaintext port serving grpc.health.v1 alone, for probes that cannot speak TLS (the kubelet's
  // gRPC probes, container health checks); empty: none.
  std::string health_listen;
  int64_t max_message_bytes = 64ll << 20;
  TlsFiles tls;
  std::string auth_tokens_file;
  std::string auth_tokens_env;
  // gRPC server reflection describes every service and message to any caller, token or not (it
  // cannot be role-gated), so it is off unless asked for: grpcurl and grpc_cli sessions.
  bool reflection = false;
  int shutdown_grace_seconds = 30;
  std::string log_level = "info";  // debug adds one line per request
  AuditLogOptions audit;           // path empty: no audit log

  absl::Status Validate() const;
  // The settings as log fields, secrets left out (token files and variables are named, never read).
  std::vector<LogField> LogFields() const;
};

// What model.id defaults to: the checkpoint directory's name ("/models/medgemma-4b-it/" gives
// "medgemma-4b-it").
std::string ModelIdFromDir(const std::string& model_dir);

// `*out` = root[key] when the key is there (yaml-cpp throws YAML::Exception on a type mismatch).
template <typename T>
void ReadYaml(const YAML::Node& node, const char* key, T* out) {
  if (node && node[key]) *out = node[key].as<T>();
}

// Reads model.{dir,id,device,dtype,attention}, listen, metrics_listen, health_listen, limits.max_message_bytes,
// tls.{cert,key,client_ca}, auth.{tokens_file,tokens_env}, reflection, shutdown_grace_seconds,
// log_level and audit.{path,max_bytes,keep}.
void ReadServiceConfig(const YAML::Node& root, ServiceConfig* config);

// --config, --model, --model-id, --device, --dtype, --attention, --listen, --metrics-listen,
// --health-listen, --tls-cert, --tls-key, --tls-client-ca, --auth-tokens-file, --reflection,
// --log-level, --audit-log: the flags of both services.
const std::vector<Flag>& ServiceFlags();
// Applies the ServiceFlags given in `args` (all but --config) over `config`, then defaults model_id.
void ApplyServiceFlags(const Args& args, ServiceConfig* config);

}  // namespace medgemma::rpc
