// A LoRA-adapted linear layer for training, x W^T + bias + scale * B(A(dropout(x))), as one
// autograd function that keeps only what its backward needs: x itself (the layer's own tensor,
// shared by every projection reading it; peft keeps a float32 copy per projection), the rank-r
// intermediate, and where the dropout mask comes from, so backward draws it again (peft keeps
// the mask): on CUDA in bf16 a draw of engine/cuda's LoRA dropout kernels, which read x once for
// mask, dropout and down-projection together; elsewhere the generator state torch's dropout starts from. One function for base and delta lets the delta accumulate into the
// base GEMM's output, and the input gradient of the delta into the base's, with no separate adds.
// The GEMMs take x's dtype (bf16 operands, float32 accumulation inside the GEMM); A and B stay
// float32 parameters and get float32 gradients. W and bias are frozen: they get none.
// With autograd off (a checkpointed block's first pass) it computes the same values and draws the
// same masks as with it on, so the recomputation in backward reproduces the forward exactly.
// Where x is an activation of other tensors (engine/input_activation.h), those are what is kept,
// and x is computed again in backward.
#pragma once

#include <torch/types.h>

#include "engine/input_activation.h"

namespace medgemma {

// A LoRA's tensors as a training step reads them.
struct LoraOperands {
  torch::Tensor a, b;  // the parameters, float32 (r, in) and (out, r): they get the gradients
  // A, and B times `scale`, in x's dtype for this step (LoraAdapter::CastForTrainingStep); cast
  // from a and b at each use when undefined.
  torch::Tensor a_step, b_scaled_step;
  double scale = 1;
};

// y in x's dtype; weight (out, in) and bias (out) or undefined; a (r, in) and b (out, r) are the
// adapter's parameters.
torch::Tensor TrainingLoraLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                 const torch::Tensor& a, const torch::Tensor& b, double scale, double dropout);
// The same layer applied to Activate(activation, x, up).
torch::Tensor TrainingLoraLinear(InputActivation activation, const torch::Tensor& x, const torch::Tensor& up,
                                 const torch::Tensor& weight, const torch::Tensor& bias, const LoraOperands& lora,
                                 double dropout);

}  // namespace medgemma
