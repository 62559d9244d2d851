// Memory on the model's accelerator: in use on the whole device (the serving metrics), and the
// peaks of this process's tensors (the trainer's progress, measured as torch.cuda's
// max_memory_allocated / max_memory_reserved so ours and a PyTorch script's read the same way).
#pragma once

#include <torch/types.h>

#include <optional>

namespace medgemma {

// Bytes in use on `device` (all processes, as cudaMemGetInfo reports); nullopt on the CPU or in
// builds without the CUDA runtime headers.
std::optional<int64_t> DeviceMemoryInUse(const torch::Device& device);

struct DeviceMemoryPeaks {
  int64_t allocated_bytes = 0;  // tensors' bytes at the highest point
  int64_t reserved_bytes = 0;   // the caching allocator's segments at the highest point
};
// Since the process started or the last ResetDeviceMemoryPeaks; nullopt on the CPU.
std::optional<DeviceMemoryPeaks> PeakDeviceMemory(const torch::Device& device);
void ResetDeviceMemoryPeaks(const torch::Device& device);

}  // namespace medgemma
