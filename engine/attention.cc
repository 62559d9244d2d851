#include "engine/attention.h"

#include <torch/torch.h>

namespace medgemma {

AttentionBackend DefaultAttentionBackend() { return AttentionBackend::kSdpa; }

TokenLayout TokenLayout::FromMasks(const torch::Tensor& attention_mask, const torch::Tensor& token_type_ids) {
  TokenLayout layout;
  layout.valid = attention_mask.to(torch::kBool);
  layout.positions = (layout.valid.to(torch::kLong).cumsum(1) - 1).clamp_min(0);
  auto is_image = token_type_ids.eq(1) & layout.valid;
  auto previous = torch::constant_pad_nd(is_image, {1, 0}, 0).narrow(1, 0, is_image.size(1));
  auto starts = is_image & ~previous;
  auto group = starts.to(torch::kLong).cumsum(1) - 1;
  layout.image_group = torch::where(is_image, group, torch::full_like(group, -1));
  return layout;
}

torch::Tensor BuildAttentionMask(const TokenLayout& queries, const TokenLayout& keys,
                                 std::optional<int64_t> sliding_window) {
  auto q_pos = queries.positions.unsqueeze(2);  // (B, Lq, 1)
  auto k_pos = keys.positions.unsqueeze(1);     // (B, 1, Lk)
  auto q_group = queries.image_group.unsqueeze(2);
  auto k_group = keys.image_group.unsqueeze(1);
  auto same_image = q_group.eq(k_group) & q_group.ge(0);
  auto allowed = (k_pos.le(q_pos) | same_image) & keys.valid.unsqueeze(1);
  if (sliding_window) allowed = allowed & (q_pos - k_pos).lt(*sliding_window);
  allowed = allowed | ~allowed.any(-1, /*keepdim=*/true);
  return allowed.unsqueeze(1);
}

torch::Tensor PrepareMask(const torch::Tensor& mask, torch::ScalarType dtype, AttentionBackend backend) {
  if (backend != AttentionBackend::kSdpa) return mask;
  return torch::zeros(mask.sizes(), mask.options().dtype(dtype))
      .masked_fill_(mask.logical_not(), -std::numeric_limits<double>::infinity());
}

namespace {
torch::Tensor RepeatKv(const torch::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const auto s = x.sizes();
  return x.unsqueeze(2).expand({s[0], s[1], groups, s[2], s[3]}).reshape({s[0], s[1] * groups, s[2], s[3]});
}

// transformers masks with torch.finfo(dtype).min of the score dtype.
c10::Scalar LowestOf(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kBFloat16: return std::numeric_limits<c10::BFloat16>::lowest();
    case torch::kHalf: return std::numeric_limits<c10::Half>::lowest();
    default: return std::numeric_limits<float>::lowest();
  }
}

torch::Tensor EagerAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             const torch::Tensor& mask, double scale) {
  auto scores = torch::matmul(q, k.transpose(2, 3)) * scale;
  if (mask.defined()) {
    scores = scores.masked_fill(~mask, LowestOf(scores.scalar_type()));
  }
  auto probs = torch::softmax(scores, -1, torch::kFloat).to(q.scalar_type());
  return torch::matmul(probs, v);
}
}  // namespace

torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const torch::Tensor& mask, double scale, AttentionBackend backend) {
  const int64_t groups = q.size(1) / k.size(1);
  auto keys = RepeatKv(k, groups);
  auto values = RepeatKv(v, groups);
  if (backend == AttentionBackend::kSdpa) {
    std::optional<torch::Tensor> attn_mask;
    if (mask.defined()) attn_mask = mask;
    return at::scaled_dot_product_attention(q, keys, values, attn_mask, 0.0, false, scale);
  }
  return EagerAttention(q, keys, values, mask, scale);
}

}  // namespace medgemma
