// Gemma 3's projector from vision patches to text-embedding soft tokens: average-pool the patch
// grid down to mm_tokens_per_image, RMSNorm, then a (V, D) matrix.
#pragma once

#include <torch/types.h>

#include "engine/model_config.h"
#include "engine/model_weights.h"

namespace medgemma {

// (N, patches, V) -> (N, mm_tokens_per_image, D) in the vision output's dtype.
torch::Tensor ProjectImageFeatures(const ModelConfig& config, const ProjectorWeights& weights,
                                   const torch::Tensor& vision_outputs);

}  // namespace medgemma
