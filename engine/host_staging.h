// Host-side staging of a batch bound for the model's device.
#pragma once

#include <torch/types.h>

#include <vector>

namespace medgemma {

// `rows` (equal shapes) stacked into one host tensor: pinned memory when `device` is CUDA, so
// that .to(device, /*non_blocking=*/true) is one asynchronous DMA that never stalls the host.
// Throws c10::Error.
torch::Tensor StackForUpload(const std::vector<torch::Tensor>& rows, const torch::Device& device);

}  // namespace medgemma
