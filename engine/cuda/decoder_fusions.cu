#include "engine/cuda/decoder_fusions.h"

#include <algorithm>

namespace medgemma::cuda {
namespace {

constexpr int kPack = 8;  // bf16 values per 16-byte load
constexpr int kMaxThreads = 256;
constexpr int kMaxPacksPerThread = static_cast<int>(kMaxNormCols / kPack / kMaxThreads);

struct alignas(16) Pack {
  __nv_bfloat16 v[kPack];
};

__device__ __forceinline__ float Round(float x) { return __bfloat162float(__float2bfloat16(x)); }

// Every thread gets the block's total.
__device__ float BlockSum(float v, float* partials) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int warps = blockDim.x / 32;
  if (warps == 1) return v;
  if (threadIdx.x % 32 == 0) partials[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x % 32 < warps ? partials[threadIdx.x % 32] : 0.f;
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// One row of `cols` held in registers: loads it, returns 1 / rms in float32.
struct RowInRegisters {
  float v[kMaxPacksPerThread][kPack];

  __device__ float Load(const __nv_bfloat16* row, int packs, float eps, int cols) {
    __shared__ float partials[kMaxThreads / 32];
    const Pack* in = reinterpret_cast<const Pack*>(row);
    float squares = 0.f;
#pragma unroll
    for (int i = 0; i < kMaxPacksPerThread; ++i) {
      const int p = threadIdx.x + i * blockDim.x;
      if (p >= packs) break;
      const Pack pack = in[p];
#pragma unroll
      for (int j = 0; j < kPack; ++j) {
        v[i][j] = __bfloat162float(pack.v[j]);
        squares += v[i][j] * v[i][j];
      }
    }
    return rsqrtf(BlockSum(squares, partials) / cols + eps);
  }
  // transformers: (x * rsqrt(mean + eps)) * (1 + w), float32, then one rounding to bf16.
  __device__ float Normed(int i, int j, float inv_rms, const Pack& w) const {
    return Round(v[i][j] * inv_rms * (1.f + __bfloat162float(w.v[j])));
  }
};

__global__ void GemmaRmsNormKernel(const __nv_bfloat16* x, const __nv_bfloat16* w, const __nv_bfloat16* residual,
                                   __nv_bfloat16* out, int cols, float eps) {
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * cols;
  const int packs = cols / kPack;
  RowInRegisters row;
  const float inv_rms = row.Load(x + offset, packs, eps, cols);
  const Pack* weights = reinterpret_cast<const Pack*>(w);
  const Pack* res = reinterpret_cast<const Pack*>(residual + (residual != nullptr ? offset : 0));
  Pack* o = reinterpret_cast<Pack*>(out + offset);
#pragma unroll
  for (int i = 0; i < kMaxPacksPerThread; ++i) {
    const int p = threadIdx.x + i * blockDim.x;
    if (p >= packs) break;
    const Pack wp = weights[p];
    Pack result;
    if (residual != nullptr) {
      const Pack rp = res[p];
#pragma unroll
      for (int j = 0; j < kPack; ++j) {
        result.v[j] = __float2bfloat16(__bfloat162float(rp.v[j]) + row.Normed(i, j, inv_rms, wp));
      }
    } else {
#pragma unroll
      for (int j = 0; j < kPack; ++j) result.v[j] = __float2bfloat16(row.Normed(i, j, inv_rms, wp));
    }
    o[p] = result;
  }
}

__global__ void GemmaRmsNormRopeKernel(const __nv_bfloat16* x, const __nv_bfloat16* w, const __nv_bfloat16* cos,
                                       const __nv_bfloat16* sin, __nv_bfloat16* out, int heads, int head_dim,
                                       float eps) {
  extern __shared__ float normed[];  // head_dim values, bf16-rounded
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * head_dim;
  const int64_t table = static_cast<int64_t>(blockIdx.x / heads) * head_dim;
  const int packs = head_dim / kPack, half = head_dim / 2;
  RowInRegisters row;
  const float inv_rms = row.Load(x + offset, packs, eps, head_dim);
  const Pack* weights = reinterpret_cast<const Pack*>(w);
#pragma unroll
  for (int i = 0; i < kMaxPacksPerThread; ++i) {
    const int p = threadIdx.x + i * blockDim.x;
    if (p >= packs) break;
    const Pack wp = weights[p];
#pragma unroll
    for (int j = 0; j < kPack; ++j) normed[p * kPack + j] = row.Normed(i, j, inv_rms, wp);
  }
  __syncthreads();
  for (int e = threadIdx.x; e < head_dim; e += blockDim.x) {
    const float rotated = e < half ? -normed[e + half] : normed[e - half];
    const float a = Round(normed[e] * __bfloat162float(cos[table + e]));
    const float b = Round(rotated * __bfloat162float(sin[table + e]));
    out[offset + e] = __float2bfloat16(a + b);
  }
}

// d/dx of x * inv_rms * (1 + w) for a row whose output gradient times (1 + w) is `gw`:
// inv_rms * (gw - x * inv_rms^2 * mean(gw * x)), what rms_norm's backward computes in float32.
struct RowBackward {
  float gw[kMaxPacksPerThread][kPack];

  __device__ void Store(const RowInRegisters& row, int packs, float inv_rms, int cols, __nv_bfloat16* grad_x) {
    __shared__ float partials[kMaxThreads / 32];
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < kMaxPacksPerThread; ++i) {
      if (threadIdx.x + i * blockDim.x >= packs) break;
#pragma unroll
      for (int j = 0; j < kPack; ++j) dot += gw[i][j] * row.v[i][j];
    }
    const float correction = BlockSum(dot, partials) / cols * inv_rms * inv_rms;
    Pack* out = reinterpret_cast<Pack*>(grad_x);
#pragma unroll
    for (int i = 0; i < kMaxPacksPerThread; ++i) {
      const int p = threadIdx.x + i * blockDim.x;
      if (p >= packs) break;
      Pack result;
#pragma unroll
      for (int j = 0; j < kPack; ++j) result.v[j] = __float2bfloat16(inv_rms * (gw[i][j] - row.v[i][j] * correction));
      out[p] = result;
    }
  }
};

__global__ void GemmaRmsNormBackwardKernel(const __nv_bfloat16* grad, const __nv_bfloat16* x, const __nv_bfloat16* w,
                                           __nv_bfloat16* grad_x, int cols, float eps) {
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * cols;
  const int packs = cols / kPack;
  RowInRegisters row;
  const float inv_rms = row.Load(x + offset, packs, eps, cols);
  const Pack* weights = reinterpret_cast<const Pack*>(w);
  const Pack* g = reinterpret_cast<const Pack*>(grad + offset);
  RowBackward back;
#pragma unroll
  for (int i = 0; i < kMaxPacksPerThread; ++i) {
    const int p = threadIdx.x + i * blockDim.x;
    if (p >= packs) break;
    const Pack gp = g[p], wp = weights[p];
#pragma unroll
    for (int j = 0; j < kPack; ++j) back.gw[i][j] = __bfloat162float(gp.v[j]) * (1.f + __bfloat162float(wp.v[j]));
  }
  back.Store(row, packs, inv_rms, cols, grad_x + offset);
}

__global__ void GemmaRmsNormRopeBackwardKernel(const __nv_bfloat16* grad, const __nv_bfloat16* x,
                                               const __nv_bfloat16* w, const __nv_bfloat16* cos,
                                               const __nv_bfloat16* sin, __nv_bfloat16* grad_x, int heads,
                                               int head_dim, float eps) {
  extern __shared__ float rotated_grad[];  // head_dim values: bf16(grad * sin)
  const int64_t offset = static_cast<int64_t>(blockIdx.x) * head_dim;
  const int64_t table = static_cast<int64_t>(blockIdx.x / heads) * head_dim;
  const int packs = head_dim / kPack, half = head_dim / 2;
  for (int e = threadIdx.x; e < head_dim; e += blockDim.x) {
    rotated_grad[e] = Round(__bfloat162float(grad[offset + e]) * __bfloat162float(sin[table + e]));
  }
  __syncthreads();
  RowInRegisters row;
  const float inv_rms = row.Load(x + offset, packs, eps, head_dim);
  const Pack* weights = reinterpret_cast<const Pack*>(w);
  RowBackward back;
#pragma unroll
  for (int i = 0; i < kMaxPacksPerThread; ++i) {
    const int p = threadIdx.x + i * blockDim.x;
    if (p >= packs) break;
    const Pack wp = weights[p];
#pragma unroll
    for (int j = 0; j < kPack; ++j) {
      // rotate_half's transpose: the first half takes the second's gradient, the second half minus the first's.
      const int e = p * kPack + j;
      const float rotated = e < half ? rotated_grad[e + half] : -rotated_grad[e - half];
      const float direct = Round(__bfloat162float(grad[offset + e]) * __bfloat162float(cos[table + e]));
      back.gw[i][j] = Round(direct + rotated) * (1.f + __bfloat162float(wp.v[j]));
    }
  }
  back.Store(row, packs, inv_rms, head_dim, grad_x + offset);
}

// torch's GeluCUDAKernelImpl, tanh form, in float32.
__device__ __forceinline__ float GeluTanh(float x) {
  constexpr float kBeta = 0.7978845608028654f;  // sqrt(2 / pi)
  constexpr float kKappa = 0.044715f;
  const float cube = x * x * x;
  const float inner = kBeta * (x + kKappa * cube);
  return 0.5f * x * (1.f + tanhf(inner));
}

__global__ void GeluTanhMulKernel(const __nv_bfloat16* gate, const __nv_bfloat16* up, __nv_bfloat16* out,
                                  int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float g = Round(GeluTanh(__bfloat162float(gate[i])));
    out[i] = __float2bfloat16(g * __bfloat162float(up[i]));
  }
}

int NormThreads(int64_t cols) {
  const int64_t packs = cols / kPack;
  const int64_t per_thread = (packs + kMaxThreads - 1) / kMaxThreads;
  const int64_t threads = (packs + per_thread - 1) / per_thread;
  return static_cast<int>(std::min<int64_t>(kMaxThreads, (threads + 31) / 32 * 32));
}

}  // namespace

void LaunchGemmaRmsNorm(const __nv_bfloat16* x, const __nv_bfloat16* w, const __nv_bfloat16* residual,
                        __nv_bfloat16* out, int64_t rows, int64_t cols, float eps, cudaStream_t stream) {
  GemmaRmsNormKernel<<<rows, NormThreads(cols), 0, stream>>>(x, w, residual, out, static_cast<int>(cols), eps);
}

void LaunchGemmaRmsNormRope(const __nv_bfloat16* x, const __nv_bfloat16* w, const __nv_bfloat16* cos,
                            const __nv_bfloat16* sin, __nv_bfloat16* out, int64_t rows, int64_t heads,
                            int64_t head_dim, float eps, cudaStream_t stream) {
  GemmaRmsNormRopeKernel<<<rows, NormThreads(head_dim), head_dim * sizeof(float), stream>>>(
      x, w, cos, sin, out, static_cast<int>(heads), static_cast<int>(head_dim), eps);
}

void LaunchGemmaRmsNormBackward(const __nv_bfloat16* grad, const __nv_bfloat16* x, const __nv_bfloat16* w,
                                __nv_bfloat16* grad_x, int64_t rows, int64_t cols, float eps, cudaStream_t stream) {
  GemmaRmsNormBackwardKernel<<<rows, NormThreads(cols), 0, stream>>>(grad, x, w, grad_x, static_cast<int>(cols), eps);
}

void LaunchGemmaRmsNormRopeBackward(const __nv_bfloat16* grad, const __nv_bfloat16* x, const __nv_bfloat16* w,
                                    const __nv_bfloat16* cos, const __nv_bfloat16* sin, __nv_bfloat16* grad_x,
                                    int64_t rows, int64_t heads, int64_t head_dim, float eps, cudaStream_t stream) {
  GemmaRmsNormRopeBackwardKernel<<<rows, NormThreads(head_dim), head_dim * sizeof(float), stream>>>(
      grad, x, w, cos, sin, grad_x, static_cast<int>(heads), static_cast<int>(head_dim), eps);
}

void LaunchGeluTanhMul(const __nv_bfloat16* gate, const __nv_bfloat16* up, __nv_bfloat16* out, int64_t n,
                       cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 132 * 16);
  GeluTanhMulKernel<<<blocks, kThreads, 0, stream>>>(gate, up, out, n);
}

}  // namespace medgemma::cuda
