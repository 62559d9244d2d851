#include "engine/cuda_fusions.h"

#include <stdexcept>

#ifdef MEDGEMMA_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdint>
#include <initializer_list>
#include <mutex>

#include "engine/cuda/decoder_fusions.h"
#include "engine/cuda/lora_dropout.h"
#include "engine/speedup_switches.h"
#endif

namespace medgemma {

#ifdef MEDGEMMA_WITH_CUDA
namespace {
// The kernels read 16-byte packs of contiguous rows.
bool PackedBf16OnCuda(std::initializer_list<const torch::Tensor*> tensors) {
  if (!FusedKernelsEnabled()) return false;
  for (const torch::Tensor* t : tensors) {
    if (!t->is_cuda() || t->scalar_type() != torch::kBFloat16 || !t->is_contiguous() ||
        reinterpret_cast<std::uintptr_t>(t->data_ptr()) % 16 != 0) {
      return false;
    }
  }
  return true;
}
// Kernels without a backward run only where nothing records autograd.
bool Bf16OnCuda(std::initializer_list<const torch::Tensor*> tensors) {
  return !torch::GradMode::is_enabled() && PackedBf16OnCuda(tensors);
}
// Kernels with a backward: the norms', which give gradients for x (and a residual) only.
bool FrozenOperands(std::initializer_list<const torch::Tensor*> tensors) {
  for (const torch::Tensor* t : tensors) {
    if (t->requires_grad()) return false;
  }
  return true;
}
bool NormableWidth(int64_t cols) { return cols % 8 == 0 && cols <= cuda::kMaxNormCols; }
const __nv_bfloat16* In(const torch::Tensor& t) { return reinterpret_cast<const __nv_bfloat16*>(t.data_ptr()); }
__nv_bfloat16* Out(torch::Tensor& t) { return reinterpret_cast<__nv_bfloat16*>(t.data_ptr()); }
cudaStream_t Stream() { return at::cuda::getCurrentCUDAStream().stream(); }
// An incoming gradient as the kernels read it.
torch::Tensor Packed(const torch::Tensor& grad) {
  auto g = grad.to(torch::kBFloat16).contiguous();
  return reinterpret_cast<std::uintptr_t>(g.data_ptr()) % 16 == 0 ? g : g.clone();
}

torch::Tensor RmsNormForward(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& residual,
                             double eps) {
  const int64_t cols = x.size(-1);
  auto out = torch::empty_like(x);
  cuda::LaunchGemmaRmsNorm(In(x), In(weight), residual.defined() ? In(residual) : nullptr, Out(out),
                           x.numel() / cols, cols, static_cast<float>(eps), Stream());
  return out;
}

torch::Tensor RmsNormRopeForward(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& cos,
                                 const torch::Tensor& sin, double eps) {
  auto out = torch::empty_like(x);
  cuda::LaunchGemmaRmsNormRope(In(x), In(weight), In(cos), In(sin), Out(out), x.numel() / x.size(3), x.size(2),
                               x.size(3), static_cast<float>(eps), Stream());
  return out;
}

// Saves x (bf16, usually kept anyway) where autograd through the float32 chain keeps a float32
// copy of it and of the normalized values.
struct RmsNormFunction : torch::autograd::Function<RmsNormFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& residual, double eps) {
    ctx->save_for_backward({x, weight});
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["residual"] = residual.numel() > 0;
    return RmsNormForward(x, weight, residual.numel() > 0 ? residual : torch::Tensor(), eps);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto grad = Packed(grads[0]);
    auto grad_x = torch::empty_like(x);
    const int64_t cols = x.size(-1);
    cuda::LaunchGemmaRmsNormBackward(In(grad), In(x), In(saved[1]), Out(grad_x), x.numel() / cols, cols,
                                     static_cast<float>(ctx->saved_data["eps"].toDouble()), Stream());
    return {grad_x, torch::Tensor(), ctx->saved_data["residual"].toBool() ? grads[0] : torch::Tensor(),
            torch::Tensor()};
  }
};

struct RmsNormRopeFunction : torch::autograd::Function<RmsNormRopeFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& cos, const torch::Tensor& sin,
                               double eps) {
    ctx->save_for_backward({x, weight, cos, sin});
    ctx->saved_data["eps"] = eps;
    return RmsNormRopeForward(x, weight, cos, sin, eps);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto grad = Packed(grads[0]);
    auto grad_x = torch::empty_like(x);
    cuda::LaunchGemmaRmsNormRopeBackward(In(grad), In(x), In(saved[1]), In(saved[2]), In(saved[3]), Out(grad_x),
                                         x.numel() / x.size(3), x.size(2), x.size(3),
                                         static_cast<float>(ctx->saved_data["eps"].toDouble()), Stream());
    return {grad_x, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

bool Recording(std::initializer_list<const torch::Tensor*> tensors) {
  if (!torch::GradMode::is_enabled()) return false;
  for (const torch::Tensor* t : tensors) {
    if (t->defined() && t->requires_grad()) return true;
  }
  return false;
}
}  // namespace

std::optional<torch::Tensor> FusedGemmaRmsNorm(const torch::Tensor& x, const torch::Tensor& weight,
                                               const torch::Tensor& residual, double eps) {
  const int64_t cols = x.size(-1);
  if (!NormableWidth(cols) || !PackedBf16OnCuda({&x, &weight}) || weight.numel() != cols) return std::nullopt;
  if (residual.defined() && (!PackedBf16OnCuda({&residual}) || residual.sizes() != x.sizes())) return std::nullopt;
  if (!Recording({&x, &residual})) return RmsNormForward(x, weight, residual, eps);
  if (!FrozenOperands({&weight})) return std::nullopt;
  return RmsNormFunction::apply(x, weight, residual.defined() ? residual : torch::empty({0}, x.options()), eps);
}

std::optional<torch::Tensor> FusedGemmaRmsNormRope(const torch::Tensor& x, const torch::Tensor& weight,
                                                   const torch::Tensor& cos, const torch::Tensor& sin, double eps) {
  if (x.dim() != 4 || !NormableWidth(x.size(3)) || !PackedBf16OnCuda({&x, &weight, &cos, &sin})) return std::nullopt;
  const int64_t head_dim = x.size(3);
  const std::vector<int64_t> table{x.size(0), x.size(1), 1, head_dim};
  if (weight.numel() != head_dim || cos.sizes() != table || sin.sizes() != table) return std::nullopt;
  if (!Recording({&x})) return RmsNormRopeForward(x, weight, cos, sin, eps);
  if (!FrozenOperands({&weight, &cos, &sin})) return std::nullopt;
  return RmsNormRopeFunction::apply(x, weight, cos, sin, eps);
}

std::optional<torch::Tensor> FusedGeluTanhMul(const torch::Tensor& gate, const torch::Tensor& up) {
  if (!Bf16OnCuda({&gate, &up}) || gate.sizes() != up.sizes()) return std::nullopt;
  auto out = torch::empty_like(gate);
  cuda::LaunchGeluTanhMul(In(gate), In(up), Out(out), gate.numel(), Stream());
  return out;
}
namespace {
cuda::DropoutDraw KernelDraw(const LoraDropoutDraw& draw) {
  return {draw.seed, draw.offset, static_cast<float>(draw.p)};
}
}  // namespace

std::optional<LoraDropoutDraw> DrawLoraDropout(const torch::Tensor& rows, const torch::Tensor& a, double p) {
  if (rows.dim() != 2 || a.dim() != 2 || a.size(1) != rows.size(1) || !PackedBf16OnCuda({&rows, &a}) ||
      !cuda::LoraDropoutSupports(a.size(0), rows.size(1))) {
    return std::nullopt;
  }
  auto* generator = at::check_generator<at::CUDAGeneratorImpl>(
      at::cuda::detail::getDefaultCUDAGenerator(rows.device().index()));
  std::lock_guard<std::mutex> lock(generator->mutex_);
  // The kernels' counters are (element / 4, offset): one offset step a call keeps calls apart.
  const auto [seed, offset] = generator->philox_engine_inputs(4);
  return LoraDropoutDraw{seed, offset, p};
}

torch::Tensor LoraDropoutDown(const torch::Tensor& rows, const torch::Tensor& a, const LoraDropoutDraw& draw) {
  auto t = torch::empty({rows.size(0), a.size(0)}, rows.options());
  cuda::LaunchLoraDropoutDown(In(rows), In(a), Out(t), rows.size(0), rows.size(1), a.size(0), KernelDraw(draw),
                              Stream());
  return t;
}

torch::Tensor LoraDropoutBackward(const torch::Tensor& rows, const torch::Tensor& grad_t, const torch::Tensor& a,
                                  const LoraDropoutDraw& draw, const torch::Tensor& grad_rows) {
  const int64_t n = rows.size(0), cols = rows.size(1), rank = a.size(0);
  auto partials = torch::empty({cuda::LoraDropoutChunks(n, cols), rank, cols}, rows.options().dtype(torch::kFloat));
  const auto g = Packed(grad_t);
  torch::Tensor into = grad_rows;
  cuda::LaunchLoraDropoutBackward(In(rows), In(g), In(a), into.defined() ? Out(into) : nullptr,
                                  partials.data_ptr<float>(), n, cols, rank, KernelDraw(draw), Stream());
  return partials.sum(0);
}

torch::Tensor LoraDropoutMask(const torch::Tensor& rows, const LoraDropoutDraw& draw) {
  auto mask = torch::empty(rows.sizes(), rows.options().dtype(torch::kUInt8));
  cuda::LaunchLoraDropoutMask(mask.data_ptr<uint8_t>(), rows.size(0), rows.size(1), KernelDraw(draw), Stream());
  return mask.to(torch::kBool);
}
#else
std::optional<LoraDropoutDraw> DrawLoraDropout(const torch::Tensor&, const torch::Tensor&, double) {
  return std::nullopt;
}
torch::Tensor LoraDropoutDown(const torch::Tensor&, const torch::Tensor&, const LoraDropoutDraw&) {
  throw std::logic_error("LoraDropoutDown needs the CUDA kernels");
}
torch::Tensor LoraDropoutBackward(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                  const LoraDropoutDraw&, const torch::Tensor&) {
  throw std::logic_error("LoraDropoutBackward needs the CUDA kernels");
}
torch::Tensor LoraDropoutMask(const torch::Tensor&, const LoraDropoutDraw&) {
  throw std::logic_error("LoraDropoutMask needs the CUDA kernels");
}
std::optional<torch::Tensor> FusedGemmaRmsNorm(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                               double) {
  return std::nullopt;
}
std::optional<torch::Tensor> FusedGemmaRmsNormRope(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                                   const torch::Tensor&, double) {
  return std::nullopt;
}
std::optional<torch::Tensor> FusedGeluTanhMul(const torch::Tensor&, const torch::Tensor&) { return std::nullopt; }
#endif

}  // namespace medgemma
