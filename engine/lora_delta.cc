#include "engine/lora_delta.h"

#include <torch/torch.h>

#include "engine/rng_state.h"

namespace medgemma {
namespace {

// Kept, scaled by 1 / (1 - p), as torch's dropout does; drawn from the device's default generator.
torch::Tensor DropoutMask(const torch::Tensor& x, double p) {
  return torch::empty_like(x).bernoulli_(1.0 - p, DeviceGenerator(x.device())).div_(1.0 - p);
}

struct LoraDeltaFunction : torch::autograd::Function<LoraDeltaFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& a,
                               const torch::Tensor& b, double scale, double dropout) {
    torch::Tensor rng_state, dropped = x;
    if (dropout > 0) {
      rng_state = GeneratorState(DeviceGenerator(x.device()));
      dropped = x * DropoutMask(x, dropout);
    }
    auto t = torch::linear(dropped, a.to(x.scalar_type()));
    ctx->save_for_backward({x, t, a, b, rng_state});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["dropout"] = dropout;
    return torch::linear(t, b.to(x.scalar_type())) * scale;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &t = saved[1], &a = saved[2], &b = saved[3], &rng_state = saved[4];
    const double scale = ctx->saved_data["scale"].toDouble(), dropout = ctx->saved_data["dropout"].toDouble();
    const auto dtype = x.scalar_type();
    const int64_t in = x.size(-1), out = b.size(0), r = a.size(0);
    auto grad = (grad_outputs[0] * scale).reshape({-1, out}).to(dtype);
    auto rows = x.reshape({-1, in});
    torch::Tensor mask;
    if (dropout > 0) {
      mask = WithGeneratorState(DeviceGenerator(x.device()), rng_state, [&] { return DropoutMask(rows, dropout); });
      rows = rows * mask;
    }
    auto grad_t = grad.mm(b.to(dtype));                                // (N, r)
    auto grad_b = grad.t().mm(t.reshape({-1, r})).to(b.scalar_type());  // (out, r)
    auto grad_a = grad_t.t().mm(rows).to(a.scalar_type());              // (r, in)
    torch::Tensor grad_x;
    if (ctx->needs_input_grad(0)) {
      grad_x = grad_t.mm(a.to(dtype));
      if (mask.defined()) grad_x = grad_x * mask;
      grad_x = grad_x.view(x.sizes());
    }
    return {grad_x, grad_a, grad_b, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor TrainingLoraDelta(const torch::Tensor& x, const torch::Tensor& a, const torch::Tensor& b, double scale,
                                double dropout) {
  return LoraDeltaFunction::apply(x, a, b, scale, dropout);
}

}  // namespace medgemma
