#include "engine/input_activation.h"

#include <torch/torch.h>

#include "engine/layers.h"

namespace medgemma {

torch::Tensor Activate(InputActivation activation, const torch::Tensor& x, const torch::Tensor& up) {
  switch (activation) {
    case InputActivation::kNone:
      return x;
    case InputActivation::kGeluTanh:
      return torch::gelu(x, "tanh");
    case InputActivation::kGeluTanhMul:
      return GeluTanhMul(x, up);
  }
  return x;
}

std::pair<torch::Tensor, torch::Tensor> ActivationBackward(InputActivation activation, const torch::Tensor& grad,
                                                           const torch::Tensor& x, const torch::Tensor& up) {
  switch (activation) {
    case InputActivation::kNone:
      return {grad, torch::Tensor()};
    case InputActivation::kGeluTanh:
      return {at::gelu_backward(grad, x, "tanh"), torch::Tensor()};
    case InputActivation::kGeluTanhMul:
      // As autograd through gelu(x) * up: the product's two gradients, then GELU's.
      return {at::gelu_backward(grad * up, x, "tanh"), grad * torch::gelu(x, "tanh")};
  }
  return {grad, torch::Tensor()};
}

}  // namespace medgemma
