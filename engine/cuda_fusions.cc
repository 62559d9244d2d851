#include "engine/cuda_fusions.h"

#ifdef MEDGEMMA_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <torch/torch.h>

#include <cstdint>
#include <initializer_list>

#include "engine/cuda/decoder_fusions.h"
#include "engine/speedup_switches.h"
#endif

namespace medgemma {

#ifdef MEDGEMMA_WITH_CUDA
namespace {
bool Bf16OnCuda(std::initializer_list<const torch::Tensor*> tensors) {
  if (torch::GradMode::is_enabled() || !FusedKernelsEnabled()) return false;
  for (const torch::Tensor* t : tensors) {
    // The kernels read 16-byte packs of contiguous rows.
    if (!t->is_cuda() || t->scalar_type() != torch::kBFloat16 || !t->is_contiguous() ||
        reinterpret_cast<std::uintptr_t>(t->data_ptr()) % 16 != 0) {
      return false;
    }
  }
  return true;
}
bool NormableWidth(int64_t cols) { return cols % 8 == 0 && cols <= cuda::kMaxNormCols; }
const __nv_bfloat16* In(const torch::Tensor& t) { return reinterpret_cast<const __nv_bfloat16*>(t.data_ptr()); }
__nv_bfloat16* Out(torch::Tensor& t) { return reinterpret_cast<__nv_bfloat16*>(t.data_ptr()); }
cudaStream_t Stream() { return at::cuda::getCurrentCUDAStream().stream(); }
}  // namespace

std::optional<torch::Tensor> FusedGemmaRmsNorm(const torch::Tensor& x, const torch::Tensor& weight,
                                               const torch::Tensor& residual, double eps) {
  const int64_t cols = x.size(-1);
  if (!NormableWidth(cols) || !Bf16OnCuda({&x, &weight}) || weight.numel() != cols) return std::nullopt;
  if (residual.defined() && (!Bf16OnCuda({&residual}) || residual.sizes() != x.sizes())) return std::nullopt;
  auto out = torch::empty_like(x);
  cuda::LaunchGemmaRmsNorm(In(x), In(weight), residual.defined() ? In(residual) : nullptr, Out(out),
                           x.numel() / cols, cols, static_cast<float>(eps), Stream());
  return out;
}

std::optional<torch::Tensor> FusedGemmaRmsNormRope(const torch::Tensor& x, const torch::Tensor& weight,
                                                   const torch::Tensor& cos, const torch::Tensor& sin, double eps) {
  if (x.dim() != 4 || !NormableWidth(x.size(3)) || !Bf16OnCuda({&x, &weight, &cos, &sin})) return std::nullopt;
  const int64_t head_dim = x.size(3), heads = x.size(2);
  const std::vector<int64_t> table{x.size(0), x.size(1), 1, head_dim};
  if (weight.numel() != head_dim || cos.sizes() != table || sin.sizes() != table) return std::nullopt;
  auto out = torch::empty_like(x);
  cuda::LaunchGemmaRmsNormRope(In(x), In(weight), In(cos), In(sin), Out(out), x.numel() / head_dim, heads, head_dim,
                               static_cast<float>(eps), Stream());
  return out;
}

std::optional<torch::Tensor> FusedGeluTanhMul(const torch::Tensor& gate, const torch::Tensor& up) {
  if (!Bf16OnCuda({&gate, &up}) || gate.sizes() != up.sizes()) return std::nullopt;
  auto out = torch::empty_like(gate);
  cuda::LaunchGeluTanhMul(In(gate), In(up), Out(out), gate.numel(), Stream());
  return out;
}
#else
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
