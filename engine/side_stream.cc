#include "engine/side_stream.h"

#ifdef MEDGEMMA_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace medgemma {

void RunOnSideStream(const torch::Device& device, const std::function<void()>& fn) {
#ifdef MEDGEMMA_WITH_CUDA
  if (device.is_cuda()) {
    const c10::DeviceIndex index = device.has_index() ? device.index() : c10::cuda::current_device();
    c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index);
    c10::cuda::CUDAStreamGuard guard(stream);
    fn();
    stream.synchronize();
    return;
  }
#endif
  fn();
}

}  // namespace medgemma
