// The Gemma decoder's elementwise chains as single CUDA kernels, on raw bf16 buffers (no libtorch
// here: nvcc then compiles in seconds). Each kernel rounds to bf16 exactly where transformers'
// chain of torch ops does, so it replaces the chain without changing its arithmetic beyond the
// order of one row reduction. engine/fused_ops wraps them for tensors.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace medgemma::cuda {

// The widest row the norm kernels take (256 threads x 4 vectors of 8).
inline constexpr int64_t kMaxNormCols = 8192;

// out = bf16(x * rsqrt(mean(x^2) + eps) * (1 + w)), in float32, per row of `cols`; plus, when
// `residual` is given, out = bf16(residual + that). cols % 8 == 0, cols <= kMaxNormCols.
void LaunchGemmaRmsNorm(const __nv_bfloat16* x, const __nv_bfloat16* w, const __nv_bfloat16* residual,
                        __nv_bfloat16* out, int64_t rows, int64_t cols, float eps, cudaStream_t stream);

// Per head vector of (B, L, H, D): the norm above, then rotate-half RoPE with cos/sin tables of
// (B, L, 1, D), rounded as x*cos + rotate(x)*sin is in bf16 torch ops. D % 8 == 0, D <= kMaxNormCols.
void LaunchGemmaRmsNormRope(const __nv_bfloat16* x, const __nv_bfloat16* w, const __nv_bfloat16* cos,
                            const __nv_bfloat16* sin, __nv_bfloat16* out, int64_t rows, int64_t heads,
                            int64_t head_dim, float eps, cudaStream_t stream);

// The gradient of LaunchGemmaRmsNorm's output for x (a residual's is the output's gradient
// itself; w is frozen), in float32 as autograd through transformers' float32 chain computes it,
// rounded once to bf16.
void LaunchGemmaRmsNormBackward(const __nv_bfloat16* grad, const __nv_bfloat16* x, const __nv_bfloat16* w,
                                __nv_bfloat16* grad_x, int64_t rows, int64_t cols, float eps, cudaStream_t stream);

// The gradient of LaunchGemmaRmsNormRope's output for x: RoPE's backward with the bf16 roundings of
// autograd through its torch ops, then the norm's as above.
void LaunchGemmaRmsNormRopeBackward(const __nv_bfloat16* grad, const __nv_bfloat16* x, const __nv_bfloat16* w,
                                    const __nv_bfloat16* cos, const __nv_bfloat16* sin, __nv_bfloat16* grad_x,
                                    int64_t rows, int64_t heads, int64_t head_dim, float eps, cudaStream_t stream);

// out = bf16(bf16(gelu_tanh(gate)) * up), elementwise over n values.
void LaunchGeluTanhMul(const __nv_bfloat16* gate, const __nv_bfloat16* up, __nv_bfloat16* out, int64_t n,
                       cudaStream_t stream);

}  // namespace medgemma::cuda
