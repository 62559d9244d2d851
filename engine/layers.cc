#include "engine/layers.h"

#include <torch/torch.h>

#include "engine/lora_adapter.h"

namespace medgemma {

torch::Tensor GemmaRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  auto xf = x.to(torch::kFloat);
  auto normed = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return (normed * (1.0 + weight.to(torch::kFloat))).to(x.scalar_type());
}

torch::Tensor GeluTanh(const torch::Tensor& x) { return torch::gelu(x, "tanh"); }

torch::Tensor LayerNorm(const torch::Tensor& x, const LayerNormWeights& w, double eps) {
  return torch::layer_norm(x, {x.size(-1)}, w.weight, w.bias, eps);
}

torch::Tensor ApplyLinear(const torch::Tensor& x, const Linear& linear, const LoraContext& lora) {
  auto y = torch::nn::functional::linear(x, linear.weight, linear.bias);
  const LoraWeights* adapter = lora.adapter != nullptr ? lora.adapter->ForLinear(linear.index) : nullptr;
  if (adapter == nullptr) return y;
  // peft keeps adapter weights in float32 next to a bf16 base and casts the input up (autocast_adapter_dtype).
  auto xa = x.to(adapter->a.scalar_type());
  const double p = lora.adapter->config().dropout;
  if (lora.training && p > 0) xa = torch::dropout(xa, p, /*train=*/true);
  auto delta = torch::nn::functional::linear(torch::nn::functional::linear(xa, adapter->a), adapter->b) *
               lora.adapter->config().scale();
  return (y + delta).to(y.scalar_type());
}

Rotary Rotary::Create(const RopeParameters& rope, int64_t head_dim, torch::Device device) {
  auto exponents = torch::arange(0, head_dim, 2, torch::kLong).to(torch::kFloat) / static_cast<double>(head_dim);
  auto inv_freq = 1.0 / torch::pow(torch::tensor(rope.theta, torch::kFloat), exponents);
  return Rotary{(inv_freq / rope.linear_factor).to(device)};
}

std::pair<torch::Tensor, torch::Tensor> Rotary::Tables(const torch::Tensor& positions,
                                                       torch::ScalarType dtype) const {
  auto freqs = positions.to(torch::kFloat).unsqueeze(-1) * inv_freq.view({1, 1, -1});  // (B, L, hd/2)
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);                               // (B, 1, L, hd)
  // transformers computes the tables in float32 and casts them to the activation dtype.
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

}  // namespace medgemma
