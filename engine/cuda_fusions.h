// Tensor-level entry points to the fused CUDA kernels (engine/cuda/). Each returns nullopt where
// its kernel does not apply: a build without CUDA sources, tensors not bf16 on CUDA, an unsupported
// width or layout, or autograd recording through a kernel without a backward (GeluTanhMul's; the
// norms have one, for x and a residual while the weights are frozen, as they are under LoRA). The
// caller then runs the equivalent chain of torch ops, which is also what the CPU tests check.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>

namespace medgemma {

// Gemma RMSNorm of x's last dim, plus `residual` when defined (residual + norm(x)).
std::optional<torch::Tensor> FusedGemmaRmsNorm(const torch::Tensor& x, const torch::Tensor& weight,
                                               const torch::Tensor& residual, double eps);
// Gemma RMSNorm of each head vector of x (B, L, H, D), then RoPE with cos/sin of (B, L, 1, D).
std::optional<torch::Tensor> FusedGemmaRmsNormRope(const torch::Tensor& x, const torch::Tensor& weight,
                                                   const torch::Tensor& cos, const torch::Tensor& sin, double eps);
// gelu_tanh(gate) * up.
std::optional<torch::Tensor> FusedGeluTanhMul(const torch::Tensor& gate, const torch::Tensor& up);

// LoRA dropout drawn inside the kernels that read the input (engine/cuda/lora_dropout.h): a draw
// is taken from the device's default generator (so a checkpointed block, which restores that
// generator, draws the same again) where rows (N, in) and a (r, in) suit the kernels, else nullopt.
struct LoraDropoutDraw {
  uint64_t seed = 0;
  uint64_t offset = 0;
  double p = 0;
};
std::optional<LoraDropoutDraw> DrawLoraDropout(const torch::Tensor& rows, const torch::Tensor& a, double p);
// dropout(rows) a^T, (N, r) in rows' dtype.
torch::Tensor LoraDropoutDown(const torch::Tensor& rows, const torch::Tensor& a, const LoraDropoutDraw& draw);
// A's float32 gradient from grad_t (N, r); adds the input's share into grad_rows (N, in) when defined.
torch::Tensor LoraDropoutBackward(const torch::Tensor& rows, const torch::Tensor& grad_t, const torch::Tensor& a,
                                  const LoraDropoutDraw& draw, const torch::Tensor& grad_rows);
// The keep mask the draw stands for, as bool (N, in): for tests.
torch::Tensor LoraDropoutMask(const torch::Tensor& rows, const LoraDropoutDraw& draw);

}  // namespace medgemma
