// The elementwise and projection operations shared by the vision tower and the decoder, with the
// dtype casts transformers makes (RMSNorm and softmax in float32, LoRA in float32 when evaluating);
// where we differ for speed (bias and GELU in the GEMM's epilogue, LoRA in the model's dtype for
// inference) the parity gate of bench/gpu.sh holds it. These throw c10::Error; callers reach them
// only from inside GuardTorch.
#pragma once

#include <torch/types.h>

#include <vector>

#include "engine/input_activation.h"
#include "engine/model_config.h"
#include "engine/model_weights.h"

namespace medgemma {

class LoraAdapter;

// Which adapter (if any) the forward pass applies, whether LoRA dropout is active, and whether
// decoder layers recompute their activations in backward instead of keeping them.
struct LoraContext {
  const LoraAdapter* adapter = nullptr;
  bool training = false;
  bool checkpoint_activations = false;
};

// Gemma's RMSNorm: float32 x * rsqrt(mean(x^2) + eps) * (1 + w), cast back to x's dtype. These and
// the fused forms below run as one CUDA kernel each for bf16 inference (engine/cuda_fusions.h).
torch::Tensor GemmaRmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
// residual + GemmaRmsNorm(x): the decoder's post-norms.
torch::Tensor AddGemmaRmsNorm(const torch::Tensor& residual, const torch::Tensor& x, const torch::Tensor& weight,
                              double eps);
// gelu_tanh(gate) * up: the decoder's MLP.
torch::Tensor GeluTanhMul(const torch::Tensor& gate, const torch::Tensor& up);
torch::Tensor LayerNorm(const torch::Tensor& x, const LayerNormWeights& w, double eps);

// x W^T (+ b), plus the adapter's B(A(dropout(x))) * scale when it targets `linear`: while training
// through TrainingLoraLinear (engine/training_lora_linear.h), for inference in the model's dtype
// onto the output, and for an adapter being evaluated in peft's float32.
torch::Tensor ApplyLinear(const torch::Tensor& x, const Linear& linear, const LoraContext& lora);
// ApplyLinear(Activate(activation, x, up)). While training a LoRA on `linear` the activation is
// recomputed in its backward instead of kept (engine/input_activation.h).
torch::Tensor ApplyLinearToActivation(InputActivation activation, const torch::Tensor& x, const torch::Tensor& up,
                                      const Linear& linear, const LoraContext& lora);
// Whether ApplyLinear trains a LoRA on `linear` (TrainingLoraLinear) rather than running inference.
bool TrainsLora(const Linear& linear, const LoraContext& lora);
// The adapter's trainable tensors for `linears` (what a checkpointed block passes to CheckpointedCall).
std::vector<torch::Tensor> LoraParameters(const std::vector<const Linear*>& linears, const LoraContext& lora);
// gelu_tanh(ApplyLinear(...)), fused into the GEMM on CUDA for inference without an adapter.
torch::Tensor ApplyLinearGelu(const torch::Tensor& x, const Linear& linear, const LoraContext& lora);

// Rotary tables for one layer type: inv_freq in float32 as transformers computes it.
struct Rotary {
  torch::Tensor inv_freq;  // (head_dim / 2)
  static Rotary Create(const RopeParameters& rope, int64_t head_dim, torch::Device device);
  // cos and sin of (B, L, 1, head_dim) in `dtype`, from integer positions (B, L).
  std::pair<torch::Tensor, torch::Tensor> Tables(const torch::Tensor& positions, torch::ScalarType dtype) const;
};
// Rotate-half RoPE of GemmaRmsNorm(x, weight) per head, on (B, L, H, head_dim) (heads innermost
// but one, so every operand is contiguous): the decoder's q/k norms.
torch::Tensor GemmaRmsNormRope(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& cos,
                               const torch::Tensor& sin, double eps);

}  // namespace medgemma
