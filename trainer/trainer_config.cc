#include "trainer/trainer_config.h"

#include <absl/strings/str_cat.h>
#include <yaml-cpp/yaml.h>

#include "base/flags.h"
#include "base/file_util.h"
#include "base/status_macros.h"
#include "trainer/proto_text.h"

namespace medgemma::trainer {
using rpc::ReadYaml;

namespace {
// The `defaults:` block is a Hyperparameters message written in YAML: the same fields, names and
// values as a request, read as strictly.
absl::Status ReadTrainingDefaults(const YAML::Node& node, TrainingOptions* o) {
  if (!node) return absl::OkStatus();
  v1::Hyperparameters defaults;
  MG_RETURN_IF_ERROR(MessageFromYaml(node, "defaults", &defaults));
  return ApplyHyperparameters(defaults, "defaults", o);
}
}  // namespace

absl::Status TrainerConfig::Validate() const {
  MG_RETURN_IF_ERROR(ServiceConfig::Validate());
  if (state_dir.empty()) return absl::InvalidArgumentError("state_dir is empty");
  if (data_roots.empty()) return absl::InvalidArgumentError("data_roots must name at least one directory");
  if (max_queued_jobs <= 0) return absl::InvalidArgumentError("max_queued_jobs must be > 0");
  MG_RETURN_IF_ERROR(defaults.Validate());
  return task.Validate();
}

std::vector<LogField> TrainerConfig::LogFields() const {
  std::vector<LogField> fields = ServiceConfig::LogFields();
  fields.insert(fields.end(), {{"state_dir", state_dir},
                               {"data_roots", data_roots},
                               {"max_queued_jobs", max_queued_jobs},
                               {"promotion_servers", servers},
                               {"promotion_token_file", server_token_file},
                               {"promotion_token_env", server_token_env},
                               {"promotion_tls", !server_tls.ca.empty()}});
  return fields;
}

FineTuneContext TrainerConfig::fine_tune_context() const { return {task, defaults, data_roots, !servers.empty()}; }

absl::StatusOr<TrainerConfig> ParseTrainerConfig(const std::string& yaml_text) {
  TrainerConfig c;
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    rpc::ReadServiceConfig(root, &c);
    ReadYaml(root, "state_dir", &c.state_dir);
    ReadYaml(root, "data_roots", &c.data_roots);
    ReadYaml(root, "max_queued_jobs", &c.max_queued_jobs);
    if (root["task"]) {
      MG_ASSIGN_OR_RETURN(c.task, ParseTask(root["task"]));
    }
    MG_RETURN_IF_ERROR(ReadTrainingDefaults(root["defaults"], &c.defaults));
    const YAML::Node promotion = root["promotion"];
    ReadYaml(promotion, "servers", &c.servers);
    ReadYaml(promotion, "token_file", &c.server_token_file);
    ReadYaml(promotion, "token_env", &c.server_token_env);
    ReadYaml(promotion, "tls_ca", &c.server_tls.ca);
    ReadYaml(promotion, "tls_cert", &c.server_tls.cert);
    ReadYaml(promotion, "tls_key", &c.server_tls.key);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("trainer config: ", e.what()));
  }
  return c;
}

const FlagSet& TrainerFlags() {
  static const FlagSet flags =
      FlagSet("medgemma-trainer --config FILE [flags]", rpc::ServiceFlags())
          .Add({{"state-dir", "DIR", "jobs.db and one directory per job (state_dir)"},
                {"data-root", "DIR", "dataset paths must lie under DIR; repeatable (data_roots)"},
                {"server", "HOST:PORT", "medgemma-server replica to promote into; repeatable (promotion.servers)"},
                {"promotion-token-file", "FILE", "the servers' admin token (promotion.token_file)"},
                {"promotion-tls-ca", "FILE", "CA of the servers' certificate: promote over TLS (promotion.tls_ca)"}});
  return flags;
}

absl::StatusOr<TrainerConfig> TrainerConfigFromArgs(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, TrainerFlags()));
  TrainerConfig c;
  if (args.Has("config")) {
    MG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(args.Get("config")));
    MG_ASSIGN_OR_RETURN(c, ParseTrainerConfig(text));
  }
  rpc::ApplyServiceFlags(args, &c);
  if (args.Has("state-dir")) c.state_dir = args.Get("state-dir");
  if (args.Has("data-root")) c.data_roots = args.GetAll("data-root");
  if (args.Has("server")) c.servers = args.GetAll("server");
  if (args.Has("promotion-token-file")) c.server_token_file = args.Get("promotion-token-file");
  if (args.Has("promotion-tls-ca")) c.server_tls.ca = args.Get("promotion-tls-ca");
  MG_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace medgemma::trainer
