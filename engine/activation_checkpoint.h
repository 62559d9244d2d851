// Activation checkpointing for libtorch C++, which has no torch.utils.checkpoint: a block's
// intermediate activations are dropped after the forward pass and recomputed in backward, trading
// one extra forward per block for memory that no longer grows with depth.
#pragma once

#include <torch/types.h>

#include <functional>
#include <vector>

namespace medgemma {

// fn(x) computed without keeping its graph; in backward fn is re-run on x with the random number
// generator of x's device restored to its forward-time state (so dropout masks repeat), and the
// gradients flow to x and to `params` (the trainable tensors fn reads; everything else it reads
// must not need gradients).
torch::Tensor CheckpointedCall(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& x,
                               const std::vector<torch::Tensor>& params);

}  // namespace medgemma
