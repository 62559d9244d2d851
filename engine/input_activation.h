// An activation a layer applies to its inputs before its GEMMs and recomputes in backward instead
// of keeping its output: GELU's outputs are the widest activations of both MLPs (4304 wide for
// 4096 tokens an image in the vision tower, 10240 in the decoder), while their inputs are kept
// anyway for GELU's own backward.
#pragma once

#include <torch/types.h>

#include <utility>

namespace medgemma {

enum class InputActivation {
  kNone,         // x
  kGeluTanh,     // gelu_tanh(x): the vision MLP
  kGeluTanhMul,  // gelu_tanh(x) * up: the decoder's gated MLP
};

// The activation's value; `up` is read only by kGeluTanhMul.
torch::Tensor Activate(InputActivation activation, const torch::Tensor& x, const torch::Tensor& up);

// Gradients for (x, up) from the gradient of Activate's value, with the roundings autograd
// through the same torch ops makes (up's is undefined unless kGeluTanhMul).
std::pair<torch::Tensor, torch::Tensor> ActivationBackward(InputActivation activation, const torch::Tensor& grad,
                                                           const torch::Tensor& x, const torch::Tensor& up);

}  // namespace medgemma
