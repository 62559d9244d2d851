#include "engine/training_lora_linear.h"

#include <torch/torch.h>

#include "engine/rng_state.h"

namespace medgemma {
namespace {

// dropout(x) and its keep-mask in one kernel (torch's native dropout: same draws as
// torch.nn.functional.dropout), from the device's default generator.
std::pair<torch::Tensor, torch::Tensor> Dropout(const torch::Tensor& x, double p) {
  auto [dropped, mask] = at::native_dropout(x, p, /*train=*/true);
  return {dropped, mask};
}

// a (M, K) x b (K, N) in their dtype with the float32 accumulator kept on CUDA (no bf16
// rounding of the parameter gradients); rounded and cast elsewhere.
torch::Tensor MmToFloat(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.is_cuda() && a.scalar_type() != torch::kFloat) return at::mm(a, b, torch::kFloat);
  return a.mm(b).to(torch::kFloat);
}

struct LoraLinearFunction : torch::autograd::Function<LoraLinearFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& a,
                               const torch::Tensor& b, double scale, double dropout) {
    const auto dtype = x.scalar_type();
    // As (N, in) rows in forward and backward alike, so the regenerated mask is the drawn one.
    torch::Tensor rng_state, rows = x.reshape({-1, x.size(-1)});
    if (dropout > 0) {
      rng_state = GeneratorState(DeviceGenerator(x.device()));
      rows = Dropout(rows, dropout).first;
    }
    auto y = torch::linear(x, weight, bias.numel() > 0 ? bias : torch::Tensor());
    auto t = torch::linear(rows, a.to(dtype));  // (N, r)
    y.view({-1, y.size(-1)}).addmm_(t, b.to(dtype).t(), /*beta=*/1, /*alpha=*/scale);
    ctx->save_for_backward({x, weight, t, a, b, rng_state});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["dropout"] = dropout;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &weight = saved[1], &t = saved[2], &a = saved[3], &b = saved[4],
                        &rng_state = saved[5];
    const double scale = ctx->saved_data["scale"].toDouble(), dropout = ctx->saved_data["dropout"].toDouble();
    const auto dtype = x.scalar_type();
    const int64_t in = x.size(-1), out = weight.size(0);
    auto grad = grad_outputs[0].reshape({-1, out}).to(dtype);
    auto rows = x.reshape({-1, in});
    torch::Tensor mask;
    if (dropout > 0) {
      std::tie(rows, mask) = WithGeneratorState(DeviceGenerator(x.device()), rng_state, [&] { return Dropout(rows, dropout); });
    }
    auto grad_t = grad.mm(b.to(dtype).mul(scale));                                // (N, r)
    auto grad_b = MmToFloat(grad.t(), t).mul_(scale);                             // (out, r)
    auto grad_a = MmToFloat(grad_t.t(), rows);                                    // (r, in)
    torch::Tensor grad_x;
    if (ctx->needs_input_grad(0)) {
      grad_x = grad.mm(weight);
      if (mask.defined()) {
        grad_x.add_(at::native_dropout_backward(grad_t.mm(a.to(dtype)), mask, 1.0 / (1.0 - dropout)));
      } else {
        grad_x.addmm_(grad_t, a.to(dtype));
      }
      grad_x = grad_x.view(x.sizes());
    }
    return {grad_x, torch::Tensor(), torch::Tensor(), grad_a, grad_b, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor TrainingLoraLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                 const torch::Tensor& a, const torch::Tensor& b, double scale, double dropout) {
  // autograd Function arguments must be defined tensors: an empty one stands for "no bias".
  return LoraLinearFunction::apply(x, weight, bias.defined() ? bias : torch::empty({0}, weight.options()), a, b, scale,
                                   dropout);
}

}  // namespace medgemma
