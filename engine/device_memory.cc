#include "engine/device_memory.h"

#ifdef MEDGEMMA_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace medgemma {

std::optional<int64_t> DeviceMemoryInUse(const torch::Device& device) {
#ifdef MEDGEMMA_WITH_CUDA
  if (!device.is_cuda()) return std::nullopt;
  int previous = 0;
  if (cudaGetDevice(&previous) != cudaSuccess) return std::nullopt;
  cudaSetDevice(device.has_index() ? device.index() : previous);
  size_t free_bytes = 0, total_bytes = 0;
  const bool ok = cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess;
  cudaSetDevice(previous);
  if (!ok) return std::nullopt;
  return static_cast<int64_t>(total_bytes - free_bytes);
#else
  (void)device;
  return std::nullopt;
#endif
}

}  // namespace medgemma
