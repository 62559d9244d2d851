// Durable training state: adapter weights, AdamW moments, the step (which fixes the schedule's
// position, the data order position and every later dropout seed), the loss history and the
// evaluations so far. Each checkpoint is a directory written under a temporary name, fsynced and
// renamed, then published by atomically rewriting LATEST, so a crash at any point leaves the
// previous checkpoint intact.
#pragma once

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <vector>

#include "engine/lora_adapter.h"
#include "engine/training/adamw.h"
#include "engine/training/eval_metrics.h"

namespace medgemma {

struct TrainingProgress {
  int64_t step = 0;  // optimizer steps completed
  std::vector<double> step_losses;
  std::optional<EvalMetrics> baseline;
  std::vector<EvalMetrics> per_epoch;
};

// `identity` describes the run (data size, batch shape, seed, ...); a checkpoint is only resumed
// by a run with the same identity.
absl::Status SaveTrainingCheckpoint(const std::filesystem::path& dir, const nlohmann::json& identity,
                                    const LoraAdapter& adapter, const AdamW& optimizer,
                                    const TrainingProgress& progress);

// The latest checkpoint under `dir` restored into `adapter` and `optimizer`; nullopt when none.
// Every file is validated on read: when the one LATEST names (or LATEST itself) is damaged, the
// previous checkpoint is restored instead; only when none loads is the error returned.
absl::StatusOr<std::optional<TrainingProgress>> LoadLatestTrainingCheckpoint(const std::filesystem::path& dir,
                                                                             const nlohmann::json& identity,
                                                                             LoraAdapter& adapter, AdamW& optimizer);

}  // namespace medgemma
