#include "engine/training_lora_linear.h"

#include <torch/torch.h>

#include <optional>

#include "engine/cuda_fusions.h"
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

// The dropout mask's source, kept for backward: a draw the CUDA kernels make inside the
// down-projection (nothing materialized), or the generator state torch's dropout kernel restarts from.
struct DropoutSource {
  std::optional<LoraDropoutDraw> draw;
  torch::Tensor rng_state;

  void Save(torch::autograd::AutogradContext* ctx) const {
    ctx->saved_data["drawn"] = draw.has_value();
    if (!draw) return;
    ctx->saved_data["seed"] = static_cast<int64_t>(draw->seed);
    ctx->saved_data["offset"] = static_cast<int64_t>(draw->offset);
  }
  static DropoutSource Load(torch::autograd::AutogradContext* ctx, const torch::Tensor& rng_state, double p) {
    if (!ctx->saved_data["drawn"].toBool()) return {std::nullopt, rng_state};
    return {LoraDropoutDraw{static_cast<uint64_t>(ctx->saved_data["seed"].toInt()),
                            static_cast<uint64_t>(ctx->saved_data["offset"].toInt()), p},
            torch::Tensor()};
  }
};

// `step` (a cast made once for the step) where there is one, else `parameter` * scale cast now.
torch::Tensor Cast(const torch::Tensor& step, const torch::Tensor& parameter, double scale, torch::ScalarType dtype) {
  if (step.numel() > 0) return step;
  return scale == 1.0 ? parameter.to(dtype) : (parameter * scale).to(dtype);
}

struct LoraLinearFunction : torch::autograd::Function<LoraLinearFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& up, const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& a_step,
                               const torch::Tensor& b_scaled_step, double scale, double dropout, int64_t activation) {
    const auto x = Activate(static_cast<InputActivation>(activation), input, up);
    const auto dtype = x.scalar_type();
    const auto a_compute = Cast(a_step, a, 1.0, dtype), b_compute = Cast(b_scaled_step, b, scale, dtype);
    // As (N, in) rows in forward and backward alike, so the regenerated mask is the drawn one.
    const auto rows = x.reshape({-1, x.size(-1)});
    DropoutSource source;
    if (dropout > 0) source.draw = DrawLoraDropout(rows, a_compute, dropout);
    torch::Tensor t;  // (N, r)
    if (source.draw) {
      t = LoraDropoutDown(rows, a_compute, *source.draw);
    } else if (dropout > 0) {
      source.rng_state = GeneratorState(DeviceGenerator(x.device()));
      t = torch::linear(Dropout(rows, dropout).first, a_compute);
    } else {
      t = torch::linear(rows, a_compute);
    }
    auto y = torch::linear(x, weight, bias.numel() > 0 ? bias : torch::Tensor());
    y.view({-1, y.size(-1)}).addmm_(t, b_compute.t());
    ctx->save_for_backward({input, up, weight, t, a_compute, b_compute, source.rng_state});
    source.Save(ctx);
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["dropout"] = dropout;
    ctx->saved_data["activation"] = activation;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &input = saved[0], &up = saved[1], &weight = saved[2], &t = saved[3], &a_compute = saved[4],
                        &b_compute = saved[5];
    const double scale = ctx->saved_data["scale"].toDouble(), dropout = ctx->saved_data["dropout"].toDouble();
    const auto source = DropoutSource::Load(ctx, saved[6], dropout);
    const auto activation = static_cast<InputActivation>(ctx->saved_data["activation"].toInt());
    const auto x = Activate(activation, input, up);
    const auto dtype = x.scalar_type();
    const int64_t in = x.size(-1), out = weight.size(0);
    auto grad = grad_outputs[0].reshape({-1, out}).to(dtype);
    const auto rows = x.reshape({-1, in});
    auto grad_t = grad.mm(b_compute);                  // (N, r)
    auto grad_b = MmToFloat(grad.t(), t).mul_(scale);  // (out, r)
    const bool wants_input = ctx->needs_input_grad(0) || ctx->needs_input_grad(1);
    torch::Tensor grad_x = wants_input ? grad.mm(weight) : torch::Tensor(), grad_a;
    if (source.draw) {
      grad_a = LoraDropoutBackward(rows, grad_t, a_compute, *source.draw, grad_x);
    } else if (dropout > 0) {
      auto [dropped, mask] =
          WithGeneratorState(DeviceGenerator(x.device()), source.rng_state, [&] { return Dropout(rows, dropout); });
      grad_a = MmToFloat(grad_t.t(), dropped);
      if (wants_input) grad_x.add_(at::native_dropout_backward(grad_t.mm(a_compute), mask, 1.0 / (1.0 - dropout)));
    } else {
      grad_a = MmToFloat(grad_t.t(), rows);
      if (wants_input) grad_x.addmm_(grad_t, a_compute);
    }
    torch::Tensor grad_up;
    if (wants_input) std::tie(grad_x, grad_up) = ActivationBackward(activation, grad_x.view(x.sizes()), input, up);
    return {grad_x,          grad_up,         torch::Tensor(), torch::Tensor(), grad_a,         grad_b,
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor TrainingLoraLinear(InputActivation activation, const torch::Tensor& x, const torch::Tensor& up,
                                 const torch::Tensor& weight, const torch::Tensor& bias, const LoraOperands& lora,
                                 double dropout) {
  // autograd Function arguments must be defined tensors: an empty one stands for "none".
  auto none = [&](const torch::Tensor& t) { return t.defined() ? t : torch::empty({0}, weight.options()); };
  return LoraLinearFunction::apply(x, none(up), weight, none(bias), lora.a, lora.b, none(lora.a_step),
                                   none(lora.b_scaled_step), lora.scale, dropout, static_cast<int64_t>(activation));
}

torch::Tensor TrainingLoraLinear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                 const torch::Tensor& a, const torch::Tensor& b, double scale, double dropout) {
  return TrainingLoraLinear(InputActivation::kNone, x, torch::Tensor(), weight, bias, LoraOperands{a, b, {}, {}, scale},
                            dropout);
}

}  // namespace medgemma
