#include "engine/host_staging.h"

#include <torch/torch.h>

namespace medgemma {

torch::Tensor StackForUpload(const std::vector<torch::Tensor>& rows, const torch::Device& device) {
  TORCH_CHECK(!rows.empty(), "nothing to stage");
  std::vector<int64_t> shape{static_cast<int64_t>(rows.size())};
  shape.insert(shape.end(), rows.front().sizes().begin(), rows.front().sizes().end());
  auto staged = torch::empty(shape, rows.front().options().pinned_memory(device.is_cuda()));
  for (size_t i = 0; i < rows.size(); ++i) staged[static_cast<int64_t>(i)].copy_(rows[i]);
  return staged;
}

}  // namespace medgemma
