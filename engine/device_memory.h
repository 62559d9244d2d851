// Memory in use on the model's accelerator, for the serving metrics.
#pragma once

#include <torch/types.h>

#include <optional>

namespace medgemma {

// Bytes in use on `device` (all processes, as cudaMemGetInfo reports); nullopt on the CPU or in
// builds without the CUDA runtime headers.
std::optional<int64_t> DeviceMemoryInUse(const torch::Device& device);

}  // namespace medgemma
