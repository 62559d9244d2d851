#include "server/server_config.h"

#include <absl/strings/str_cat.h>
#include <yaml-cpp/yaml.h>

#include "client/cli_args.h"
#include "engine/file_util.h"
#include "engine/status_macros.h"

namespace medgemma::server {
namespace {
template <typename T>
void Read(const YAML::Node& node, const char* key, T* out) {
  if (node && node[key]) *out = node[key].as<T>();
}
}  // namespace

absl::Status ServerConfig::Validate() const {
  if (model_dir.empty()) return absl::InvalidArgumentError("model.dir (or --model) is required");
  if (listen.empty()) return absl::InvalidArgumentError("listen is empty");
  if (batching.max_batch_size <= 0) return absl::InvalidArgumentError("batching.max_batch_size must be > 0");
  if (batching.max_queue_size < batching.max_batch_size) {
    return absl::InvalidArgumentError("batching.max_queue_size must be >= max_batch_size");
  }
  if (batching.max_queue_delay_us < 0) return absl::InvalidArgumentError("batching.max_queue_delay_us must be >= 0");
  for (int size : batching.preferred_batch_sizes) {
    if (size <= 0 || size > batching.max_batch_size) {
      return absl::InvalidArgumentError(absl::StrCat("preferred batch size ", size, " outside 1..max_batch_size"));
    }
  }
  if (image_limits.max_pixels <= 0 || image_limits.max_encoded_bytes == 0) {
    return absl::InvalidArgumentError("limits must be > 0");
  }
  return task.Validate();
}

absl::StatusOr<ServerConfig> ParseServerConfig(const std::string& yaml_text) {
  ServerConfig c;
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    const YAML::Node model = root["model"];
    Read(model, "dir", &c.model_dir);
    Read(model, "id", &c.model_id);
    Read(model, "device", &c.device);
    Read(model, "dtype", &c.dtype);
    Read(model, "attention", &c.attention);
    Read(root, "listen", &c.listen);
    Read(root, "metrics_listen", &c.metrics_listen);
    if (root["task"]) {
      MG_ASSIGN_OR_RETURN(c.task, ParseTask(root["task"]));
    }
    const YAML::Node batching = root["batching"];
    Read(batching, "max_batch_size", &c.batching.max_batch_size);
    Read(batching, "max_queue_delay_us", &c.batching.max_queue_delay_us);
    Read(batching, "preferred_batch_sizes", &c.batching.preferred_batch_sizes);
    Read(batching, "max_queue_size", &c.batching.max_queue_size);
    Read(batching, "preprocess_threads", &c.batching.preprocess_threads);
    const YAML::Node adapters = root["adapters"];
    Read(adapters, "dir", &c.adapters_dir);
    Read(adapters, "default", &c.default_adapter);
    Read(adapters, "roots", &c.adapter_roots);
    if (adapters && adapters["load"]) {
      for (const auto& item : adapters["load"]) c.adapters.push_back({item["name"].as<std::string>(), item["path"].as<std::string>()});
    }
    const YAML::Node limits = root["limits"];
    Read(limits, "max_message_bytes", &c.max_message_bytes);
    Read(limits, "max_image_bytes", &c.image_limits.max_encoded_bytes);
    Read(limits, "max_image_pixels", &c.image_limits.max_pixels);
    const YAML::Node tls = root["tls"];
    Read(tls, "cert", &c.tls.cert);
    Read(tls, "key", &c.tls.key);
    Read(tls, "client_ca", &c.tls.ca);
    const YAML::Node auth = root["auth"];
    Read(auth, "tokens_file", &c.auth_tokens_file);
    Read(auth, "tokens_env", &c.auth_tokens_env);
    Read(root, "shutdown_grace_seconds", &c.shutdown_grace_seconds);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("server config: ", e.what()));
  }
  return c;
}

absl::StatusOr<ServerConfig> ServerConfigFromArgs(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(cli::Args args, cli::Args::Parse(argv, {"config", "model", "listen", "metrics-listen", "device", "dtype",
                                                              "attention", "adapters-dir", "adapter-root", "default-adapter",
                                                              "auth-tokens-file"},
                                                       {}));
  ServerConfig c;
  if (args.Has("config")) {
    MG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(args.Get("config")));
    MG_ASSIGN_OR_RETURN(c, ParseServerConfig(text));
  }
  auto override_with = [&](const char* flag, std::string* field) {
    if (args.Has(flag)) *field = args.Get(flag);
  };
  override_with("model", &c.model_dir);
  override_with("listen", &c.listen);
  override_with("metrics-listen", &c.metrics_listen);
  override_with("device", &c.device);
  override_with("dtype", &c.dtype);
  override_with("attention", &c.attention);
  override_with("adapters-dir", &c.adapters_dir);
  override_with("default-adapter", &c.default_adapter);
  override_with("auth-tokens-file", &c.auth_tokens_file);
  if (args.Has("adapter-root")) c.adapter_roots = args.GetAll("adapter-root");
  if (c.adapter_roots.empty() && !c.adapters_dir.empty()) c.adapter_roots.push_back(c.adapters_dir);
  MG_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace medgemma::server
