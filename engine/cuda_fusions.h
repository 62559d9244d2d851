// Tensor-level entry points to the fused CUDA kernels (engine/cuda/). Each returns nullopt where
// its kernel does not apply: a build without CUDA sources, tensors not bf16 on CUDA, autograd
// recording (the kernels have no backward), an unsupported width or layout. The caller then runs
// the equivalent chain of torch ops, which is also what the CPU tests check. A checkpointed block's
// forward runs with autograd off and so uses the kernels, while its recompute in backward runs the
// chains: the two may differ by a bf16 step in a value, as any two kernel choices may.
#pragma once

#include <torch/types.h>

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

}  // namespace medgemma
