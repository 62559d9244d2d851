#include "trainer/trainer_config.h"

#include <absl/strings/str_cat.h>
#include <yaml-cpp/yaml.h>

#include "client/cli_args.h"
#include "engine/file_util.h"
#include "engine/status_macros.h"

namespace medgemma::trainer {
namespace {
template <typename T>
void Read(const YAML::Node& node, const char* key, T* out) {
  if (node && node[key]) *out = node[key].as<T>();
}

void ReadTrainingDefaults(const YAML::Node& node, TrainingOptions* o) {
  if (!node) return;
  Read(node, "lora_r", &o->lora.r);
  Read(node, "lora_alpha", &o->lora.alpha);
  Read(node, "lora_dropout", &o->lora.dropout);
  Read(node, "target_modules", &o->lora.target_modules);
  Read(node, "epochs", &o->epochs);
  Read(node, "learning_rate", &o->learning_rate);
  Read(node, "micro_batch_size", &o->micro_batch_size);
  Read(node, "gradient_accumulation_steps", &o->gradient_accumulation_steps);
  Read(node, "warmup_ratio", &o->warmup_ratio);
  Read(node, "max_grad_norm", &o->max_grad_norm);
  Read(node, "seed", &o->seed);
  Read(node, "weight_decay", &o->weight_decay);
  Read(node, "activation_checkpointing", &o->activation_checkpointing);
  Read(node, "checkpoint_every_steps", &o->checkpoint_every_steps);
  Read(node, "eval_batch_size", &o->eval_batch_size);
  std::string loss;
  Read(node, "loss", &loss);
  if (loss == "ANSWER_ONLY") o->loss = LossMode::kAnswerOnly;
}
}  // namespace

absl::Status TrainerConfig::Validate() const {
  if (model_dir.empty()) return absl::InvalidArgumentError("model.dir (or --model) is required");
  if (listen.empty()) return absl::InvalidArgumentError("listen is empty");
  if (state_dir.empty()) return absl::InvalidArgumentError("state_dir is empty");
  if (data_roots.empty()) return absl::InvalidArgumentError("data_roots must name at least one directory");
  if (max_queued_jobs <= 0) return absl::InvalidArgumentError("max_queued_jobs must be > 0");
  MG_RETURN_IF_ERROR(defaults.Validate());
  return task.Validate();
}

absl::StatusOr<TrainerConfig> ParseTrainerConfig(const std::string& yaml_text) {
  TrainerConfig c;
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    const YAML::Node model = root["model"];
    Read(model, "dir", &c.model_dir);
    Read(model, "device", &c.device);
    Read(model, "dtype", &c.dtype);
    Read(model, "attention", &c.attention);
    Read(root, "listen", &c.listen);
    Read(root, "metrics_listen", &c.metrics_listen);
    Read(root, "state_dir", &c.state_dir);
    Read(root, "data_roots", &c.data_roots);
    Read(root, "max_queued_jobs", &c.max_queued_jobs);
    if (root["task"]) {
      MG_ASSIGN_OR_RETURN(c.task, ParseTask(root["task"]));
    }
    ReadTrainingDefaults(root["defaults"], &c.defaults);
    const YAML::Node promotion = root["promotion"];
    Read(promotion, "servers", &c.servers);
    Read(promotion, "token_file", &c.server_token_file);
    Read(promotion, "token_env", &c.server_token_env);
    Read(promotion, "tls_ca", &c.server_tls.ca);
    Read(promotion, "tls_cert", &c.server_tls.cert);
    Read(promotion, "tls_key", &c.server_tls.key);
    const YAML::Node tls = root["tls"];
    Read(tls, "cert", &c.tls.cert);
    Read(tls, "key", &c.tls.key);
    Read(tls, "client_ca", &c.tls.ca);
    const YAML::Node auth = root["auth"];
    Read(auth, "tokens_file", &c.auth_tokens_file);
    Read(auth, "tokens_env", &c.auth_tokens_env);
    Read(root, "shutdown_grace_seconds", &c.shutdown_grace_seconds);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("trainer config: ", e.what()));
  }
  return c;
}

absl::StatusOr<TrainerConfig> TrainerConfigFromArgs(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(cli::Args args, cli::Args::Parse(argv, {"config", "model", "listen", "metrics-listen", "state-dir",
                                                              "device", "dtype", "data-root", "server"},
                                                       {}));
  TrainerConfig c;
  if (args.Has("config")) {
    MG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(args.Get("config")));
    MG_ASSIGN_OR_RETURN(c, ParseTrainerConfig(text));
  }
  auto override_with = [&](const char* flag, std::string* field) {
    if (args.Has(flag)) *field = args.Get(flag);
  };
  override_with("model", &c.model_dir);
  override_with("listen", &c.listen);
  override_with("metrics-listen", &c.metrics_listen);
  override_with("state-dir", &c.state_dir);
  override_with("device", &c.device);
  override_with("dtype", &c.dtype);
  if (args.Has("data-root")) c.data_roots = args.GetAll("data-root");
  if (args.Has("server")) c.servers = args.GetAll("server");
  MG_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace medgemma::trainer
