// Keys and values of every decoder layer for a batch, preallocated to a fixed length so decode
// steps write in place and keep static shapes.
#pragma once

#include <torch/types.h>

#include <utility>
#include <vector>

#include "engine/attention.h"
#include "engine/model_config.h"

namespace medgemma {

struct KvCache {
  std::vector<torch::Tensor> keys, values;  // per layer (B, Hkv, capacity, head_dim)
  TokenLayout layout;                       // per cached slot (B, capacity); unwritten slots invalid
  int64_t length = 0;                       // slots written so far
  // Undefined, or (B) int64: each row's own write slot for a step of one token per row. Rows of
  // different lengths then share a decode step (engine/decode_batch.h); `length` only bounds the
  // slots attention reads, and stays the caller's to set.
  torch::Tensor row_slots;

  static KvCache Allocate(const TextConfig& config, int64_t batch, int64_t capacity, torch::Device device,
                          torch::ScalarType dtype);
  // Records the layout of `step` new tokens at slots [length, length + step), or at row_slots.
  void AppendLayout(const TokenLayout& step);
  // Writes a step's keys and values (B, Hkv, step, head_dim) of `layer` where AppendLayout puts
  // their layout; returns the keys and values of slots [0, length + step).
  std::pair<torch::Tensor, torch::Tensor> Store(size_t layer, const torch::Tensor& k, const torch::Tensor& v);
  // The layout of slots [0, end).
  TokenLayout Prefix(int64_t end) const;
};

}  // namespace medgemma
