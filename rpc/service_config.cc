#include "rpc/service_config.h"

#include <absl/strings/str_cat.h>

#include <filesystem>

#include "base/status_macros.h"

namespace medgemma::rpc {
namespace {

absl::string_view TlsMode(const TlsFiles& tls) {
  if (tls.cert.empty()) return "off";
  return tls.ca.empty() ? "tls" : "mutual";
}

}  // namespace

std::string ModelIdFromDir(const std::string& model_dir) {
  // Absolute first, so that "." and ".." name a directory too.
  std::filesystem::path dir = std::filesystem::absolute(model_dir).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // a trailing separator
  return dir.filename().string();
}

absl::Status ServiceConfig::Validate() const {
  if (model_dir.empty()) return absl::InvalidArgumentError("model.dir (or --model) is required");
  if (listen.empty()) return absl::InvalidArgumentError("listen is empty");
  if (max_message_bytes <= 0 || max_message_bytes > INT32_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("limits.max_message_bytes must be in 1..", INT32_MAX));
  }
  if (tls.cert.empty() != tls.key.empty()) return absl::InvalidArgumentError("tls.cert and tls.key go together");
  if (shutdown_grace_seconds < 0) return absl::InvalidArgumentError("shutdown_grace_seconds must be >= 0");
  return ParseLogLevel(log_level).status();
}

std::vector<LogField> ServiceConfig::LogFields() const {
  return {{"model_dir", model_dir},
          {"model_id", model_id},
          {"device", device},
          {"dtype", dtype},
          {"attention", attention},
          {"listen", listen},
          {"metrics_listen", metrics_listen},
          {"health_listen", health_listen},
          {"max_message_bytes", max_message_bytes},
          {"tls", TlsMode(tls)},
          {"auth_tokens_file", auth_tokens_file},
          {"auth_tokens_env", auth_tokens_env},
          {"reflection", reflection},
          {"shutdown_grace_seconds", shutdown_grace_seconds},
          {"log_level", log_level},
          {"audit_log", audit.path}};
}

void ReadServiceConfig(const YAML::Node& root, ServiceConfig* c) {
  const YAML::Node model = root["model"];
  ReadYaml(model, "dir", &c->model_dir);
  ReadYaml(model, "id", &c->model_id);
  ReadYaml(model, "device", &c->device);
  ReadYaml(model, "dtype", &c->dtype);
  ReadYaml(model, "attention", &c->attention);
  ReadYaml(root, "listen", &c->listen);
  ReadYaml(root, "metrics_listen", &c->metrics_listen);
  ReadYaml(root, "health_listen", &c->health_listen);
  ReadYaml(root["limits"], "max_message_bytes", &c->max_message_bytes);
  const YAML::Node tls = root["tls"];
  ReadYaml(tls, "cert", &c->tls.cert);
  ReadYaml(tls, "key", &c->tls.key);
  ReadYaml(tls, "client_ca", &c->tls.ca);
  const YAML::Node auth = root["auth"];
  ReadYaml(auth, "tokens_file", &c->auth_tokens_file);
  ReadYaml(auth, "tokens_env", &c->auth_tokens_env);
  ReadYaml(root, "reflection", &c->reflection);
  ReadYaml(root, "shutdown_grace_seconds", &c->shutdown_grace_seconds);
  ReadYaml(root, "log_level", &c->log_level);
  const YAML::Node audit = root["audit"];
  ReadYaml(audit, "path", &c->audit.path);
  ReadYaml(audit, "max_bytes", &c->audit.max_bytes);
  ReadYaml(audit, "keep", &c->audit.keep);
}

const std::vector<Flag>& ServiceFlags() {
  static const std::vector<Flag> flags = {
      {"config", "FILE", "YAML configuration; the flags below override it"},
      {"model", "DIR", "HF-format checkpoint directory (model.dir)"},
      {"model-id", "ID", "model id reported to clients (model.id; default: the directory's name)"},
      {"device", "DEVICE", "cpu | cuda | cuda:N | auto (model.device)"},
      {"dtype", "DTYPE", "float32 | bfloat16 | float16 | auto (model.dtype)"},
      {"attention", "IMPL", "sdpa | eager | auto (model.attention)"},
      {"listen", "HOST:PORT", "gRPC address (listen; port 0 picks a free one)"},
      {"metrics-listen", "HOST:PORT", "Prometheus /metrics address (metrics_listen; empty: none)"},
      {"health-listen", "HOST:PORT", "plaintext grpc.health.v1-only address for probes (health_listen; empty: none)"},
      {"tls-cert", "FILE", "PEM certificate: serve TLS (tls.cert)"},
      {"tls-key", "FILE", "PEM key of --tls-cert (tls.key)"},
      {"tls-client-ca", "FILE", "PEM CA of client certificates: mutual TLS (tls.client_ca)"},
      {"auth-tokens-file", "FILE", "bearer tokens, one 'role [name] token' per line (auth.tokens_file)"},
      {"reflection", "", "serve gRPC server reflection (reflection; off by default: it shows the API to any caller)"},
      {"log-level", "LEVEL", "debug | info | warning | error (log_level; debug logs every request)"},
      {"audit-log", "FILE", "audit trail, a JSON line per request and admin action; - for stdout (audit.path)"},
  };
  return flags;
}

void ApplyServiceFlags(const Args& args, ServiceConfig* c) {
  const auto override_with = [&](const char* flag, std::string* field) {
    if (args.Has(flag)) *field = args.Get(flag);
  };
  override_with("model", &c->model_dir);
  override_with("model-id", &c->model_id);
  override_with("device", &c->device);
  override_with("dtype", &c->dtype);
  override_with("attention", &c->attention);
  override_with("listen", &c->listen);
  override_with("metrics-listen", &c->metrics_listen);
  override_with("health-listen", &c->health_listen);
  override_with("tls-cert", &c->tls.cert);
  override_with("tls-key", &c->tls.key);
  override_with("tls-client-ca", &c->tls.ca);
  override_with("auth-tokens-file", &c->auth_tokens_file);
  override_with("log-level", &c->log_level);
  override_with("audit-log", &c->audit.path);
  if (args.Has("reflection")) c->reflection = true;
  if (c->model_id.empty() && !c->model_dir.empty()) c->model_id = ModelIdFromDir(c->model_dir);
}

}  // namespace medgemma::rpc
