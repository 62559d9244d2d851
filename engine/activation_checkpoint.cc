#include "engine/activation_checkpoint.h"

#include <torch/torch.h>

#include "engine/rng_state.h"

namespace medgemma {
namespace {

// What backward needs besides tensors; autograd contexts keep non-tensors only as IValues.
struct Recompute : torch::CustomClassHolder {
  std::function<torch::Tensor(const torch::Tensor&)> fn;
  at::Generator generator;
  at::Tensor generator_state;
};

struct CheckpointFunction : torch::autograd::Function<CheckpointFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::TensorList& params, c10::intrusive_ptr<Recompute> recompute) {
    std::vector<torch::Tensor> saved{x};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["recompute"] = c10::IValue::make_capsule(recompute);
    return recompute->fn(x);  // autograd is off inside forward: nothing is kept
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto recompute = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["recompute"].toCapsule());
    std::vector<torch::Tensor> inputs = ctx->get_saved_variables();
    inputs[0] = inputs[0].detach().requires_grad_(true);

    torch::Tensor out = WithGeneratorState(recompute->generator, recompute->generator_state, [&] {
      torch::AutoGradMode enable_grad(true);
      return recompute->fn(inputs[0]);
    });

    auto grads = torch::autograd::grad({out}, inputs, {grad_outputs[0]}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    grads.push_back(torch::Tensor());  // for the Recompute argument
    return grads;
  }
};

}  // namespace

torch::Tensor CheckpointedCall(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& x,
                               const std::vector<torch::Tensor>& params) {
  auto recompute = c10::make_intrusive<Recompute>();
  recompute->fn = fn;
  recompute->generator = DeviceGenerator(x.device());
  recompute->generator_state = GeneratorState(recompute->generator);
  return CheckpointFunction::apply(x, torch::TensorList(params), recompute);
}

}  // namespace medgemma
