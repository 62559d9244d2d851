#include "server/server_config.h"

#include <absl/strings/str_cat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "base/file_util.h"
#include "base/status_macros.h"

namespace medgemma::server {
using rpc::ReadYaml;

absl::Status ServerConfig::Validate() const {
  MG_RETURN_IF_ERROR(ServiceConfig::Validate());
  if (batching.max_batch_size <= 0) return absl::InvalidArgumentError("batching.max_batch_size must be > 0");
  if (adapter_loading.max_waiting < 0 || adapter_loading.timeout_seconds <= 0) {
    return absl::InvalidArgumentError("adapters.max_waiting_loads must be >= 0 and adapters.load_timeout_seconds > 0");
  }
  if (batching.max_queue_size < batching.max_batch_size) {
    return absl::InvalidArgumentError("batching.max_queue_size must be >= max_batch_size");
  }
  if (batching.max_queue_delay_us < 0) return absl::InvalidArgumentError("batching.max_queue_delay_us must be >= 0");
  if (http_threads < 1 || http_threads > 1024) return absl::InvalidArgumentError("http_threads must be in 1..1024");
  for (int size : batching.preferred_batch_sizes) {
    if (size <= 0 || size > batching.max_batch_size) {
      return absl::InvalidArgumentError(absl::StrCat("preferred batch size ", size, " outside 1..max_batch_size"));
    }
  }
  if (image_limits.max_pixels <= 0 || image_limits.max_encoded_bytes == 0 || max_inflight_bytes <= 0 ||
      max_stream_inflight_bytes <= 0) {
    return absl::InvalidArgumentError("limits must be > 0");
  }
  MG_RETURN_IF_ERROR(assistant.Validate());
  return task.Validate();
}

std::vector<std::string> ServerConfig::AllowedAdapterRoots() const {
  std::vector<std::string> roots = adapter_roots;
  if (!adapters_dir.empty() && std::find(roots.begin(), roots.end(), adapters_dir) == roots.end()) {
    roots.push_back(adapters_dir);
  }
  return roots;
}

std::vector<LogField> ServerConfig::LogFields() const {
  std::vector<LogField> fields = ServiceConfig::LogFields();
  std::vector<std::string> preferred;
  for (int size : batching.preferred_batch_sizes) preferred.push_back(std::to_string(size));
  std::vector<std::string> configured_adapters;
  for (const auto& spec : adapters) configured_adapters.push_back(spec.name);
  fields.insert(fields.end(), {{"admin_listen", admin_listen},
                               {"http_listen", http_listen},
                               {"http_threads", http_threads},
                               {"max_batch_size", batching.max_batch_size},
                               {"max_queue_delay_us", batching.max_queue_delay_us},
                               {"preferred_batch_sizes", preferred},
                               {"max_queue_size", batching.max_queue_size},
                               {"preprocess_threads", batching.preprocess_threads},
                               {"adapters_dir", adapters_dir},
                               {"adapters", configured_adapters},
                               {"default_adapter", default_adapter},
                               {"adapter_roots", AllowedAdapterRoots()},
                               {"max_waiting_loads", adapter_loading.max_waiting},
                               {"load_timeout_seconds", adapter_loading.timeout_seconds},
                               {"max_inflight_bytes", max_inflight_bytes},
                               {"max_stream_inflight_bytes", max_stream_inflight_bytes},
                               {"assistant_system_prompt_bytes", assistant.system_prompt.size()},
                               {"assistant_guardrails_file", assistant.guardrails_file},
                               {"labels", task.labels.size()}});
  return fields;
}

absl::StatusOr<ServerConfig> ParseServerConfig(const std::string& yaml_text) {
  ServerConfig c;
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    rpc::ReadServiceConfig(root, &c);
    ReadYaml(root, "admin_listen", &c.admin_listen);
    ReadYaml(root, "http_listen", &c.http_listen);
    ReadYaml(root, "http_threads", &c.http_threads);
    if (root["task"]) {
      MG_ASSIGN_OR_RETURN(c.task, ParseTask(root["task"]));
    }
    MG_ASSIGN_OR_RETURN(c.assistant, assistant::ParseAssistantConfig(root["assistant"]));
    const YAML::Node batching = root["batching"];
    ReadYaml(batching, "max_batch_size", &c.batching.max_batch_size);
    ReadYaml(batching, "max_queue_delay_us", &c.batching.max_queue_delay_us);
    ReadYaml(batching, "preferred_batch_sizes", &c.batching.preferred_batch_sizes);
    ReadYaml(batching, "max_queue_size", &c.batching.max_queue_size);
    ReadYaml(batching, "preprocess_threads", &c.batching.preprocess_threads);
    const YAML::Node adapters = root["adapters"];
    ReadYaml(adapters, "dir", &c.adapters_dir);
    ReadYaml(adapters, "default", &c.default_adapter);
    ReadYaml(adapters, "roots", &c.adapter_roots);
    ReadYaml(adapters, "max_waiting_loads", &c.adapter_loading.max_waiting);
    ReadYaml(adapters, "load_timeout_seconds", &c.adapter_loading.timeout_seconds);
    if (adapters && adapters["load"]) {
      for (const auto& item : adapters["load"]) c.adapters.push_back({item["name"].as<std::string>(), item["path"].as<std::string>()});
    }
    const YAML::Node limits = root["limits"];
    ReadYaml(limits, "max_image_bytes", &c.image_limits.max_encoded_bytes);
    ReadYaml(limits, "max_image_pixels", &c.image_limits.max_pixels);
    ReadYaml(limits, "max_inflight_bytes", &c.max_inflight_bytes);
    ReadYaml(limits, "max_stream_inflight_bytes", &c.max_stream_inflight_bytes);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("server config: ", e.what()));
  }
  return c;
}

const FlagSet& ServerFlags() {
  static const FlagSet flags =
      FlagSet("medgemma-server --config FILE [flags]", rpc::ServiceFlags())
          .Add({{"admin-listen", "HOST:PORT", "serve AdapterAdmin (and Classifier) here, Classifier alone on --listen (admin_listen)"},
                {"http-listen", "HOST:PORT", "HTTP/JSON: OIP REST endpoints and POST /v1/classify (http_listen; empty: none)"},
                {"adapters-dir", "DIR", "load every adapter under DIR at start (adapters.dir)"},
                {"adapter-root", "DIR", "LoadAdapter paths must lie under DIR or the adapters dir; repeatable (adapters.roots)"},
                {"default-adapter", "NAME", "adapter that answers requests naming none (adapters.default)"}});
  return flags;
}

absl::StatusOr<ServerConfig> ServerConfigFromArgs(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, ServerFlags()));
  ServerConfig c;
  if (args.Has("config")) {
    MG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(args.Get("config")));
    MG_ASSIGN_OR_RETURN(c, ParseServerConfig(text));
  }
  rpc::ApplyServiceFlags(args, &c);
  if (args.Has("admin-listen")) c.admin_listen = args.Get("admin-listen");
  if (args.Has("http-listen")) c.http_listen = args.Get("http-listen");
  if (args.Has("adapters-dir")) c.adapters_dir = args.Get("adapters-dir");
  if (args.Has("default-adapter")) c.default_adapter = args.Get("default-adapter");
  if (args.Has("adapter-root")) c.adapter_roots = args.GetAll("adapter-root");
  MG_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace medgemma::server
