// Keys and values of every decoder layer for a batch, preallocated to a fixed length so decode
// steps write in place and keep static shapes.
#pragma once

#include <torch/types.h>

#include <vector>

#include "engine/attention.h"
#include "engine/model_config.h"

namespace medgemma {

struct KvCache {
  std::vector<torch::Tensor> keys, values;  // per layer (B, Hkv, capacity, head_dim)
  TokenLayout layout;                       // per cached slot (B, capacity); unwritten slots invalid
  int64_t length = 0;                       // slots written so far

  static KvCache Allocate(const TextConfig& config, int64_t batch, int64_t capacity, torch::Device device,
                          torch::ScalarType dtype);
  // Records the layout of `step` new tokens at slots [length, length + step).
  void AppendLayout(const TokenLayout& step);
  // The layout of slots [0, end).
  TokenLayout Prefix(int64_t end) const;
};

}  // namespace medgemma
