// SigLIP vision tower (no pooling head): patch conv + learned positions, pre-LN encoder layers
// with bidirectional attention, final LayerNorm.
#pragma once

#include <torch/types.h>

#include "engine/attention.h"
#include "engine/layers.h"

namespace medgemma {

// pixel_values (N, C, S, S) -> (N, patches, V) in the weights' dtype.
torch::Tensor VisionTowerForward(const VisionConfig& config, const VisionWeights& weights,
                                 const torch::Tensor& pixel_values, const LoraContext& lora,
                                 AttentionBackend backend);

}  // namespace medgemma
