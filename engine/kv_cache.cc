#include "engine/kv_cache.h"

#include <torch/torch.h>

namespace medgemma {

KvCache KvCache::Allocate(const TextConfig& c, int64_t batch, int64_t capacity, torch::Device device,
                          torch::ScalarType dtype) {
  KvCache cache;
  const auto options = torch::TensorOptions().device(device).dtype(dtype);
  for (int64_t i = 0; i < c.num_layers(); ++i) {
    cache.keys.push_back(torch::zeros({batch, c.num_key_value_heads, capacity, c.head_dim}, options));
    cache.values.push_back(torch::zeros({batch, c.num_key_value_heads, capacity, c.head_dim}, options));
  }
  const auto long_options = torch::TensorOptions().device(device).dtype(torch::kLong);
  cache.layout.positions = torch::zeros({batch, capacity}, long_options);
  cache.layout.valid = torch::zeros({batch, capacity}, long_options.dtype(torch::kBool));
  cache.layout.image_group = torch::full({batch, capacity}, -1, long_options);
  return cache;
}

void KvCache::AppendLayout(const TokenLayout& step) {
  if (row_slots.defined()) {
    TORCH_CHECK(step.positions.size(1) == 1, "per-row cache slots take one token per row");
    const auto index = row_slots.view({-1, 1});
    layout.positions.scatter_(1, index, step.positions);
    layout.valid.scatter_(1, index, step.valid);
    layout.image_group.scatter_(1, index, step.image_group);
    return;
  }
  const int64_t n = step.positions.size(1);
  layout.positions.narrow(1, length, n).copy_(step.positions);
  layout.valid.narrow(1, length, n).copy_(step.valid);
  layout.image_group.narrow(1, length, n).copy_(step.image_group);
}

std::pair<torch::Tensor, torch::Tensor> KvCache::Store(size_t layer, const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t n = k.size(2);
  if (row_slots.defined()) {
    TORCH_CHECK(n == 1, "per-row cache slots take one token per row");
    const auto index = row_slots.view({-1, 1, 1, 1}).expand(k.sizes());
    keys[layer].scatter_(2, index, k);
    values[layer].scatter_(2, index, v);
  } else {
    keys[layer].narrow(2, length, n).copy_(k);
    values[layer].narrow(2, length, n).copy_(v);
  }
  return {keys[layer].narrow(2, 0, length + n), values[layer].narrow(2, 0, length + n)};
}

TokenLayout KvCache::Prefix(int64_t end) const {
  return {layout.positions.narrow(1, 0, end), layout.valid.narrow(1, 0, end), layout.image_group.narrow(1, 0, end)};
}

}  // namespace medgemma
