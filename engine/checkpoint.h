// An HF-format checkpoint directory: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json. Loads every tensor straight to the target device and dtype.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <filesystem>

#include "engine/model_config.h"
#include "engine/model_weights.h"

namespace medgemma {

// Reads config.json, validates every tensor's name and shape against it, and reports unknown and
// missing tensors by name. Floating tensors are converted to `dtype`.
absl::StatusOr<ModelWeights> LoadModelWeights(const std::filesystem::path& model_dir,
                                              const ModelConfig& config, torch::Device device,
                                              torch::ScalarType dtype);

// Writes config.json and model.safetensors (in transformers 5.17's save layout, tied head omitted),
// or shards of at most `max_shard_bytes` with an index when the model is larger.
absl::Status SaveModelCheckpoint(const std::filesystem::path& model_dir, const ModelConfig& config,
                                 const ModelWeights& weights, uint64_t max_shard_bytes = 5ull << 30);

}  // namespace medgemma
