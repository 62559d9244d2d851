#include "engine/training/training_checkpoint.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <torch/torch.h>

#include <map>

#include "engine/file_util.h"
#include "engine/safetensors.h"
#include "engine/status_macros.h"

namespace medgemma {
namespace fs = std::filesystem;
using json = nlohmann::json;
namespace {

constexpr char kLatest[] = "LATEST";
constexpr char kTensors[] = "state.safetensors";
constexpr char kState[] = "trainer_state.json";

json ProgressToJson(const TrainingProgress& p, const json& identity) {
  json per_epoch = json::array();
  for (const auto& m : p.per_epoch) per_epoch.push_back(EvalMetricsToJson(m));
  return {{"identity", identity},
          {"step", p.step},
          {"step_losses", p.step_losses},
          {"baseline", p.baseline ? EvalMetricsToJson(*p.baseline) : json()},
          {"per_epoch", per_epoch},
          {"rng", "dropout reseeded from (seed, micro-batch index) before every micro-batch; data order from "
                  "(seed, epoch): both follow from step"}};
}

absl::StatusOr<TrainingProgress> ProgressFromJson(const json& j) {
  try {
    TrainingProgress p;
    p.step = j.at("step").get<int64_t>();
    p.step_losses = j.at("step_losses").get<std::vector<double>>();
    if (!j.at("baseline").is_null()) {
      MG_ASSIGN_OR_RETURN(EvalMetrics baseline, EvalMetricsFromJson(j.at("baseline")));
      p.baseline = baseline;
    }
    for (const auto& m : j.at("per_epoch")) {
      MG_ASSIGN_OR_RETURN(EvalMetrics e, EvalMetricsFromJson(m));
      p.per_epoch.push_back(e);
    }
    return p;
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("trainer state: ", e.what()));
  }
}

std::vector<std::pair<std::string, torch::Tensor>> AdapterTensors(const LoraAdapter& adapter) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [module, w] : adapter.Modules()) {
    out.emplace_back(absl::StrCat("adapter.", module, ".lora_A"), w->a.detach());
    out.emplace_back(absl::StrCat("adapter.", module, ".lora_B"), w->b.detach());
  }
  return out;
}

}  // namespace

absl::Status SaveTrainingCheckpoint(const fs::path& dir, const json& identity, const LoraAdapter& adapter,
                                    const AdamW& optimizer, const TrainingProgress& progress) {
  const std::string name = absl::StrFormat("step-%08d", progress.step);
  const fs::path tmp = dir / absl::StrCat(name, ".tmp");
  std::error_code ec;
  RemoveTree(tmp);
  fs::create_directories(tmp, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", tmp.string(), ": ", ec.message()));
  auto tensors = AdapterTensors(adapter);
  for (auto& [key, t] : optimizer.State()) tensors.emplace_back(absl::StrCat("optimizer.", key), t);
  MG_RETURN_IF_ERROR(WriteSafetensors(tmp / kTensors, tensors,
                                      {{"optimizer_steps", std::to_string(optimizer.steps())}}));
  MG_RETURN_IF_ERROR(WriteStringAtomically(tmp / kState, ProgressToJson(progress, identity).dump(1)));
  const fs::path final_dir = dir / name;
  RemoveTree(final_dir);
  fs::rename(tmp, final_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("rename ", tmp.string(), ": ", ec.message()));
  MG_RETURN_IF_ERROR(SyncDirectory(dir));
  MG_RETURN_IF_ERROR(WriteStringAtomically(dir / kLatest, name));
  // Older checkpoints are only removed once the new one is published.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string n = entry.path().filename().string();
    if (entry.is_directory() && n.rfind("step-", 0) == 0 && n != name) RemoveTree(entry.path());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<TrainingProgress>> LoadLatestTrainingCheckpoint(const fs::path& dir, const json& identity,
                                                                             LoraAdapter& adapter, AdamW& optimizer) {
  std::error_code ec;
  if (!fs::exists(dir / kLatest, ec)) return std::optional<TrainingProgress>();
  MG_ASSIGN_OR_RETURN(std::string name, ReadFileToString(dir / kLatest));
  const fs::path checkpoint = dir / name;
  MG_ASSIGN_OR_RETURN(std::string state_text, ReadFileToString(checkpoint / kState));
  json state = json::parse(state_text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded()) return absl::DataLossError(absl::StrCat(checkpoint.string(), ": unreadable trainer state"));
  if (state.value("identity", json()) != identity) {
    return absl::FailedPreconditionError(absl::StrCat(checkpoint.string(), " was written by a run with different ",
                                                      "data or settings: ", state.value("identity", json()).dump(),
                                                      " vs ", identity.dump()));
  }
  MG_ASSIGN_OR_RETURN(TrainingProgress progress, ProgressFromJson(state));
  MG_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(checkpoint / kTensors));
  std::map<std::string, torch::Tensor> optimizer_state;
  for (const auto& [key, info] : file.tensors()) {
    if (key.rfind("optimizer.", 0) != 0) continue;
    MG_ASSIGN_OR_RETURN(torch::Tensor t, file.Load(key));
    optimizer_state[key.substr(10)] = t;
  }
  MG_RETURN_IF_ERROR(GuardTorch("restore checkpoint", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    for (auto& [key, target] : AdapterTensors(adapter)) {
      if (!file.tensors().count(key)) return absl::DataLossError(absl::StrCat(checkpoint.string(), " lacks ", key));
      MG_ASSIGN_OR_RETURN(torch::Tensor t, file.Load(key));
      target.copy_(t);  // detach() shares storage with the adapter's tensor
    }
    return absl::OkStatus();
  }));
  MG_RETURN_IF_ERROR(optimizer.LoadState(optimizer_state, progress.step));
  return std::optional<TrainingProgress>(progress);
}

}  // namespace medgemma
