#include "engine/layers.h"

#include <torch/torch.h>

#include "engine/cuda_fusions.h"
#include "engine/lora_adapter.h"
#include "engine/training_lora_linear.h"

namespace medgemma {
namespace {
torch::Tensor GeluTanh(const torch::Tensor& x) { return torch::gelu(x, "tanh"); }

torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}
}  // namespace

torch::Tensor GemmaRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (auto fused = FusedGemmaRmsNorm(x, weight, torch::Tensor(), eps)) return *fused;
  // at::rms_norm is the same float32 arithmetic in one fused kernel on CUDA.
  return at::rms_norm(x.to(torch::kFloat), {x.size(-1)}, 1.0 + weight.to(torch::kFloat), eps).to(x.scalar_type());
}

torch::Tensor AddGemmaRmsNorm(const torch::Tensor& residual, const torch::Tensor& x, const torch::Tensor& weight,
                              double eps) {
  if (auto fused = FusedGemmaRmsNorm(x, weight, residual, eps)) return *fused;
  return residual + GemmaRmsNorm(x, weight, eps);
}

torch::Tensor GeluTanhMul(const torch::Tensor& gate, const torch::Tensor& up) {
  if (auto fused = FusedGeluTanhMul(gate, up)) return *fused;
  return GeluTanh(gate) * up;
}

torch::Tensor LayerNorm(const torch::Tensor& x, const LayerNormWeights& w, double eps) {
  return torch::layer_norm(x, {x.size(-1)}, w.weight, w.bias, eps);
}

namespace {
const LoraWeights* AdapterFor(const Linear& linear, const LoraContext& lora) {
  return lora.adapter != nullptr ? lora.adapter->ForLinear(linear.index) : nullptr;
}

// Inference: the delta's second GEMM accumulates onto y in float32 inside cuBLAS and rounds once,
// where peft rounds y, adds a float32 delta and rounds again; both keep y's bf16 rounding, and the
// delta (small next to y) loses only its own bf16 bits here. Two rank-r GEMMs and no float32 copy
// of x: about a fifth of the traffic of peft's way.
torch::Tensor AddLoraDelta(const torch::Tensor& x, torch::Tensor y, const LoraWeights& adapter) {
  auto down = torch::linear(x, adapter.a_compute);
  y.view({-1, y.size(-1)}).addmm_(down.reshape({-1, down.size(-1)}), adapter.b_scaled_compute.t());
  return y;
}

bool InferenceOnly(const LoraContext& lora) { return !lora.training && !torch::GradMode::is_enabled(); }
}  // namespace

bool TrainsLora(const Linear& linear, const LoraContext& lora) {
  // Training takes this path with autograd off too (a checkpointed block's first pass): its
  // recomputation must see the same arithmetic and the same dropout draws.
  return AdapterFor(linear, lora) != nullptr && (lora.training || torch::GradMode::is_enabled());
}

torch::Tensor ApplyLinearToActivation(InputActivation activation, const torch::Tensor& x, const torch::Tensor& up,
                                      const Linear& linear, const LoraContext& lora) {
  if (!TrainsLora(linear, lora)) return ApplyLinear(Activate(activation, x, up), linear, lora);
  const LoraWeights& adapter = *AdapterFor(linear, lora);
  const LoraConfig& config = lora.adapter->config();
  return TrainingLoraLinear(activation, x, up, linear.weight, linear.bias,
                            LoraOperands{adapter.a, adapter.b, adapter.a_step, adapter.b_scaled_step, config.scale()},
                            lora.training ? config.dropout : 0.0);
}

torch::Tensor ApplyLinear(const torch::Tensor& x, const Linear& linear, const LoraContext& lora) {
  const LoraWeights* adapter = AdapterFor(linear, lora);
  // at::linear fuses the bias into the GEMM (torch::nn::functional::linear adds it in a second pass).
  if (adapter == nullptr) return torch::linear(x, linear.weight, linear.bias);
  if (InferenceOnly(lora) && adapter->a_compute.defined()) {
    return AddLoraDelta(x, torch::linear(x, linear.weight, linear.bias), *adapter);
  }
  if (TrainsLora(linear, lora)) return ApplyLinearToActivation(InputActivation::kNone, x, torch::Tensor(), linear, lora);
  const double scale = lora.adapter->config().scale();
  // Evaluating an adapter being trained: peft's arithmetic, which keeps adapter weights in float32
  // next to a bf16 base and casts the input up (autocast_adapter_dtype).
  auto y = torch::linear(x, linear.weight, linear.bias);
  auto delta = torch::linear(torch::linear(x.to(adapter->a.scalar_type()), adapter->a), adapter->b) * scale;
  return (y + delta).to(y.scalar_type());
}

std::vector<torch::Tensor> LoraParameters(const std::vector<const Linear*>& linears, const LoraContext& lora) {
  std::vector<torch::Tensor> params;
  for (const Linear* linear : linears) {
    if (const LoraWeights* w = AdapterFor(*linear, lora)) {
      params.push_back(w->a);
      params.push_back(w->b);
    }
  }
  return params;
}

torch::Tensor ApplyLinearGelu(const torch::Tensor& x, const Linear& linear, const LoraContext& lora) {
  const bool fusable = x.is_cuda() && linear.bias.defined() && AdapterFor(linear, lora) == nullptr &&
                       !torch::GradMode::is_enabled();
  if (!fusable) return GeluTanh(ApplyLinear(x, linear, lora));
  // cuBLASLt's GELU+bias epilogue is the tanh form, applied to the float32 accumulator before the
  // one rounding to bf16 (transformers rounds, then applies GELU): one pass over the output less.
  auto y = at::_addmm_activation(linear.bias, x.reshape({-1, x.size(-1)}), linear.weight.t(), 1, 1, /*use_gelu=*/true);
  auto sizes = x.sizes().vec();
  sizes.back() = y.size(-1);
  return y.view(sizes);
}

Rotary Rotary::Create(const RopeParameters& rope, int64_t head_dim, torch::Device device) {
  auto exponents = torch::arange(0, head_dim, 2, torch::kLong).to(torch::kFloat) / static_cast<double>(head_dim);
  auto inv_freq = 1.0 / torch::pow(torch::tensor(rope.theta, torch::kFloat), exponents);
  return Rotary{(inv_freq / rope.linear_factor).to(device)};
}

std::pair<torch::Tensor, torch::Tensor> Rotary::Tables(const torch::Tensor& positions,
                                                       torch::ScalarType dtype) const {
  auto freqs = positions.to(torch::kFloat).unsqueeze(-1) * inv_freq.view({1, 1, -1});  // (B, L, hd/2)
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(2);                               // (B, L, 1, hd)
  // transformers computes the tables in float32 and casts them to the activation dtype.
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor GemmaRmsNormRope(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& cos,
                               const torch::Tensor& sin, double eps) {
  if (auto fused = FusedGemmaRmsNormRope(x, weight, cos, sin, eps)) return *fused;
  return ApplyRope(GemmaRmsNorm(x, weight, eps), cos, sin);
}

}  // namespace medgemma
