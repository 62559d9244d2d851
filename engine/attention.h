// Attention masks and the attention kernel. Masks are boolean (true = may attend) and built from
// token positions, so right-padded batches and KV-cached decoding give the logits single calls do.
#pragma once

#include <torch/types.h>

#include <optional>

namespace medgemma {

enum class AttentionBackend { kEager, kSdpa };
// SDPA: the fused kernels where the device has them (eager stays for parity checks).
AttentionBackend DefaultAttentionBackend();

// Per-token facts the mask is made of; all (B, L).
struct TokenLayout {
  torch::Tensor positions;    // int64, counted over real tokens only
  torch::Tensor valid;        // bool, false on padding
  torch::Tensor image_group;  // int64, index of the image a soft token belongs to, -1 elsewhere

  // From an attention mask (1 = real token) and token types (1 = image soft token); right or
  // left padding both work.
  static TokenLayout FromMasks(const torch::Tensor& attention_mask, const torch::Tensor& token_type_ids);
};

// (B, 1, Lq, Lk): causal by position, or same image (bidirectional within an image), restricted
// to keys less than `sliding_window` positions back when given. Rows with no allowed key (padding
// queries) are opened fully so no NaN can arise; their outputs are never read.
torch::Tensor BuildAttentionMask(const TokenLayout& queries, const TokenLayout& keys,
                                 std::optional<int64_t> sliding_window);

// The mask as `backend` takes it best, made once per forward pass rather than in every layer: SDPA
// gets it additive in `dtype` (0 or -inf, the conversion SDPA would do itself), eager keeps bool.
torch::Tensor PrepareMask(const torch::Tensor& mask, torch::ScalarType dtype, AttentionBackend backend);

// q (B, H, Lq, d), k and v (B, Hkv, Lk, d) with H a multiple of Hkv; mask from BuildAttentionMask
// (through PrepareMask or not) or undefined.
torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& mask, double scale, AttentionBackend backend);

}  // namespace medgemma
