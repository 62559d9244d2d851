// The Gemma 3 decoder stack: sliding and global attention layers with q/k norms, GQA and RoPE,
// GeGLU MLPs and Gemma's four norms per layer. Returns the hidden states before the final norm.
#pragma once

#include <torch/types.h>

#include "engine/attention.h"
#include "engine/kv_cache.h"
#include "engine/layers.h"

namespace medgemma {

struct DecoderRotaries {
  Rotary full, sliding;
  static DecoderRotaries Create(const TextConfig& config, torch::Device device);
};

// embeds (B, L, D) laid out as `layout`. With a cache, the new keys and values are written at
// its current length and attention covers everything cached so far.
torch::Tensor TextDecoderForward(const TextConfig& config, const TextWeights& weights,
                                 const DecoderRotaries& rotaries, const torch::Tensor& embeds,
                                 const TokenLayout& layout, const LoraContext& lora,
                                 AttentionBackend backend, KvCache* cache);

}  // namespace medgemma
