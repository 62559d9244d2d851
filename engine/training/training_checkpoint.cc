#include "engine/training/training_checkpoint.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <vector>

#include "base/file_util.h"
#include "engine/safetensors.h"
#include "engine/torch_guard.h"

namespace medgemma {
namespace fs = std::filesystem;
using json = nlohmann::json;
namespace {

constexpr char kLatest[] = "LATEST";
constexpr char kTensors[] = "state.safetensors";
constexpr char kState[] = "trainer_state.json";
constexpr char kStepPrefix[] = "step-";
// The published checkpoint and the one before it: the fallback if the newer turns out damaged.
constexpr size_t kCheckpointsKept = 2;

bool IsCheckpointName(const std::string& name) {
  const std::string prefix = kStepPrefix;
  if (name.size() <= prefix.size() || name.rfind(prefix, 0) != 0) return false;
  return std::all_of(name.begin() + prefix.size(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Checkpoint directories, newest (by name, which orders by step) first.
std::vector<std::string> CheckpointNames(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) && IsCheckpointName(name)) names.push_back(name);
  }
  std::sort(names.rbegin(), names.rend());
  return names;
}

// What to try restoring, in order: the checkpoint LATEST names when that is a well-formed name,
// then every other one, newest first (a crash between the rename and LATEST's rewrite leaves the
// newest unnamed).
std::vector<std::string> CheckpointCandidates(const fs::path& dir) {
  std::vector<std::string> names = CheckpointNames(dir);
  auto latest = ReadFileToString(dir / kLatest, /*max_bytes=*/4096);
  if (latest.ok()) {
    auto named = std::find(names.begin(), names.end(), *latest);
    if (named != names.end()) std::rotate(names.begin(), named, named + 1);
  }
  return names;
}

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
  const std::vector<std::string> names = CheckpointNames(dir);
  for (size_t i = kCheckpointsKept; i < names.size(); ++i) RemoveTree(dir / names[i]);
  return absl::OkStatus();
}

namespace {
absl::StatusOr<TrainingProgress> LoadTrainingCheckpoint(const fs::path& checkpoint, const json& identity,
                                                        LoraAdapter& adapter, AdamW& optimizer) {
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
  return progress;
}
}  // namespace

absl::StatusOr<std::optional<TrainingProgress>> LoadLatestTrainingCheckpoint(const fs::path& dir, const json& identity,
                                                                             LoraAdapter& adapter, AdamW& optimizer) {
  absl::Status first_error;
  for (const std::string& name : CheckpointCandidates(dir)) {
    // A failed attempt may have restored some tensors; the next success overwrites all of them.
    auto progress = LoadTrainingCheckpoint(dir / name, identity, adapter, optimizer);
    if (progress.ok()) return std::optional<TrainingProgress>(*progress);
    if (first_error.ok()) first_error = progress.status();
  }
  return first_error.ok() ? absl::StatusOr<std::optional<TrainingProgress>>(std::nullopt)
                          : absl::StatusOr<std::optional<TrainingProgress>>(first_error);
}

}  // namespace medgemma
