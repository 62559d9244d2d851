#include "engine/device_memory.h"

#ifdef MEDGEMMA_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
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

#ifdef MEDGEMMA_WITH_CUDA
namespace {
c10::DeviceIndex IndexOf(const torch::Device& device) {
  return device.has_index() ? device.index() : static_cast<c10::DeviceIndex>(0);
}
}  // namespace
#endif

std::optional<DeviceMemoryPeaks> PeakDeviceMemory(const torch::Device& device) {
#ifdef MEDGEMMA_WITH_CUDA
  if (!device.is_cuda()) return std::nullopt;
  namespace alloc = c10::cuda::CUDACachingAllocator;
  const auto stats = alloc::getDeviceStats(IndexOf(device));
  const auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  return DeviceMemoryPeaks{stats.allocated_bytes[all].peak, stats.reserved_bytes[all].peak};
#else
  (void)device;
  return std::nullopt;
#endif
}

void ResetDeviceMemoryPeaks(const torch::Device& device) {
#ifdef MEDGEMMA_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(IndexOf(device));
#else
  (void)device;
#endif
}

}  // namespace medgemma
