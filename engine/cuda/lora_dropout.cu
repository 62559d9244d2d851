#include "engine/cuda/lora_dropout.h"

#include <algorithm>

namespace medgemma::cuda {
namespace {

constexpr int kPack = 4;  // values per Philox draw and per thread step
constexpr int kWarp = 32;

struct alignas(8) Pack {
  __nv_bfloat16 v[kPack];
};

__device__ __forceinline__ float Round(float x) { return __bfloat162float(__float2bfloat16(x)); }

__device__ __forceinline__ uint4 Philox(uint64_t counter, uint64_t offset, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = static_cast<uint32_t>(offset), c3 = static_cast<uint32_t>(offset >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    const uint32_t hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return make_uint4(c0, c1, c2, c3);
}

// The keep decisions of the pack starting at element `first` (a multiple of kPack).
__device__ __forceinline__ void Keep(int64_t first, const DropoutDraw& draw, bool keep[kPack]) {
  const uint4 bits = Philox(static_cast<uint64_t>(first / kPack), draw.offset, draw.seed);
  const uint32_t words[kPack] = {bits.x, bits.y, bits.z, bits.w};
  const float threshold = 1.f - draw.p;
#pragma unroll
  for (int j = 0; j < kPack; ++j) keep[j] = static_cast<float>(words[j] >> 8) * (1.f / 16777216.f) < threshold;
}

// torch's dropout: the kept value times 1 / (1 - p) in float32, rounded to the input's dtype.
__device__ __forceinline__ float Dropped(__nv_bfloat16 x, bool keep, float scale) {
  return keep ? Round(__bfloat162float(x) * scale) : 0.f;
}

// Each warp takes kRowsPerWarp rows: lanes stride their packs, loading A's columns once for all
// the rows, then the warp sums each (row, rank) partial dot.
constexpr int kRowsPerWarp = 4;

template <int R>
__device__ __forceinline__ void LoadRanks(const __nv_bfloat16* __restrict__ from, float out[R]) {
  const Pack* packs = reinterpret_cast<const Pack*>(from);
#pragma unroll
  for (int q = 0; q < R / kPack; ++q) {
    const Pack p = packs[q];
#pragma unroll
    for (int j = 0; j < kPack; ++j) out[q * kPack + j] = __bfloat162float(p.v[j]);
  }
}

template <int R>
__global__ void DownKernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ a,
                           __nv_bfloat16* __restrict__ t, int64_t rows, int cols, DropoutDraw draw) {
  const int64_t first = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp * kRowsPerWarp;
  if (first >= rows) return;
  const int lane = threadIdx.x % kWarp;
  const float scale = 1.f / (1.f - draw.p);
  const int packs = cols / kPack;
  const Pack* weights = reinterpret_cast<const Pack*>(a);
  float acc[kRowsPerWarp][R] = {};
  for (int p = lane; p < packs; p += kWarp) {
    float w[R][kPack];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const Pack wp = weights[r * packs + p];
#pragma unroll
      for (int j = 0; j < kPack; ++j) w[r][j] = __bfloat162float(wp.v[j]);
    }
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
      const int64_t row = first + i;
      if (row >= rows) break;
      bool keep[kPack];
      Keep(row * cols + p * kPack, draw, keep);
      const Pack xp = reinterpret_cast<const Pack*>(x + row * cols)[p];
#pragma unroll
      for (int j = 0; j < kPack; ++j) {
        const float v = Dropped(xp.v[j], keep[j], scale);
#pragma unroll
        for (int r = 0; r < R; ++r) acc[i][r] += v * w[r][j];
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      for (int offset = kWarp / 2; offset > 0; offset >>= 1) {
        acc[i][r] += __shfl_xor_sync(0xffffffffu, acc[i][r], offset);
      }
    }
  }
  if (lane != 0) return;
#pragma unroll
  for (int i = 0; i < kRowsPerWarp; ++i) {
    if (first + i >= rows) break;
#pragma unroll
    for (int r = 0; r < R; ++r) t[(first + i) * R + r] = __float2bfloat16(acc[i][r]);
  }
}

constexpr int kMaxBackwardThreads = 128;
constexpr int kMinChunk = 64;

// Threads own a pack of columns and walk a chunk of rows: the input gradient is updated in place,
// A's gradient summed in registers and written once per chunk (reduced over chunks by the caller,
// so the result does not depend on scheduling).
template <int R>
__global__ void BackwardKernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ grad_t,
                               const __nv_bfloat16* __restrict__ a, __nv_bfloat16* __restrict__ grad_x,
                               float* __restrict__ partials, int64_t rows, int cols, int64_t chunk,
                               DropoutDraw draw) {
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  const bool active = p < cols / kPack;
  const int col = p * kPack;
  const float scale = 1.f / (1.f - draw.p);
  if (!active) return;
  float weights[R][kPack], acc[R][kPack] = {};
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int j = 0; j < kPack; ++j) weights[r][j] = __bfloat162float(a[r * cols + col + j]);
  }
  const int64_t begin = blockIdx.y * chunk, end = min(rows, begin + chunk);
#pragma unroll 2
  for (int64_t row = begin; row < end; ++row) {
    float g[R];
    LoadRanks<R>(grad_t + row * R, g);
    bool keep[kPack];
    Keep(row * cols + col, draw, keep);
    const Pack xp = reinterpret_cast<const Pack*>(x + row * cols)[p];
    Pack* gx = grad_x != nullptr ? reinterpret_cast<Pack*>(grad_x + row * cols) + p : nullptr;
    Pack gp;
    if (gx != nullptr) gp = *gx;
#pragma unroll
    for (int j = 0; j < kPack; ++j) {
      const float v = Dropped(xp.v[j], keep[j], scale);
      float d = 0.f;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        acc[r][j] += g[r] * v;
        d += g[r] * weights[r][j];
      }
      if (gx != nullptr && keep[j]) gp.v[j] = __float2bfloat16(__bfloat162float(gp.v[j]) + d * scale);
    }
    if (gx != nullptr) *gx = gp;
  }
  float* out = partials + static_cast<int64_t>(blockIdx.y) * R * cols;
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int j = 0; j < kPack; ++j) out[r * cols + col + j] = acc[r][j];
  }
}

__global__ void MaskKernel(uint8_t* mask, int64_t n, DropoutDraw draw) {
  const int64_t first = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * kPack;
  if (first >= n) return;
  bool keep[kPack];
  Keep(first, draw, keep);
  for (int j = 0; j < kPack && first + j < n; ++j) mask[first + j] = keep[j];
}

// Column packs split evenly over as few blocks of at most kMaxBackwardThreads as hold them (the
// vision tower's 288 packs: 3 blocks of 96, none idle).
int64_t ColumnBlocks(int64_t cols) { return (cols / kPack + kMaxBackwardThreads - 1) / kMaxBackwardThreads; }
int BackwardThreads(int64_t cols) {
  const int64_t per_block = (cols / kPack + ColumnBlocks(cols) - 1) / ColumnBlocks(cols);
  return static_cast<int>((per_block + kWarp - 1) / kWarp * kWarp);
}

template <int R>
void Down(const __nv_bfloat16* x, const __nv_bfloat16* a, __nv_bfloat16* t, int64_t rows, int64_t cols,
          DropoutDraw draw, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t warps = (rows + kRowsPerWarp - 1) / kRowsPerWarp;
  const int64_t blocks = (warps * kWarp + kThreads - 1) / kThreads;
  DownKernel<R><<<blocks, kThreads, 0, stream>>>(x, a, t, rows, static_cast<int>(cols), draw);
}

template <int R>
void Backward(const __nv_bfloat16* x, const __nv_bfloat16* grad_t, const __nv_bfloat16* a, __nv_bfloat16* grad_x,
              float* partials, int64_t rows, int64_t cols, DropoutDraw draw, cudaStream_t stream) {
  const int64_t chunks = LoraDropoutChunks(rows, cols);
  const int64_t chunk = (rows + chunks - 1) / chunks;
  const dim3 grid(static_cast<unsigned>(ColumnBlocks(cols)), static_cast<unsigned>(chunks));
  BackwardKernel<R><<<grid, BackwardThreads(cols), 0, stream>>>(x, grad_t, a, grad_x, partials, rows,
                                                           static_cast<int>(cols), chunk, draw);
}

}  // namespace

bool LoraDropoutSupports(int64_t rank, int64_t cols) {
  return (rank == 4 || rank == 8 || rank == 16) && cols % kPack == 0 && cols < (int64_t{1} << 30);
}

int64_t LoraDropoutChunks(int64_t rows, int64_t cols) {
  // Enough blocks to keep every SM's memory pipe busy (H100: 132 SMs), each walking at least
  // kMinChunk rows so that the partials stay small next to x.
  constexpr int64_t kTargetBlocks = 4 * 132;
  const int64_t wanted = std::max<int64_t>(1, kTargetBlocks / ColumnBlocks(cols));
  return std::max<int64_t>(1, std::min(wanted, rows / kMinChunk));
}

void LaunchLoraDropoutDown(const __nv_bfloat16* x, const __nv_bfloat16* a, __nv_bfloat16* t, int64_t rows,
                           int64_t cols, int64_t rank, DropoutDraw draw, cudaStream_t stream) {
  switch (rank) {
    case 4: return Down<4>(x, a, t, rows, cols, draw, stream);
    case 8: return Down<8>(x, a, t, rows, cols, draw, stream);
    case 16: return Down<16>(x, a, t, rows, cols, draw, stream);
  }
}

void LaunchLoraDropoutBackward(const __nv_bfloat16* x, const __nv_bfloat16* grad_t, const __nv_bfloat16* a,
                               __nv_bfloat16* grad_x, float* partials, int64_t rows, int64_t cols, int64_t rank,
                               DropoutDraw draw, cudaStream_t stream) {
  switch (rank) {
    case 4: return Backward<4>(x, grad_t, a, grad_x, partials, rows, cols, draw, stream);
    case 8: return Backward<8>(x, grad_t, a, grad_x, partials, rows, cols, draw, stream);
    case 16: return Backward<16>(x, grad_t, a, grad_x, partials, rows, cols, draw, stream);
  }
}

void LaunchLoraDropoutMask(uint8_t* mask, int64_t rows, int64_t cols, DropoutDraw draw, cudaStream_t stream) {
  constexpr int kThreads = 256;
  const int64_t n = rows * cols, packs = (n + kPack - 1) / kPack;
  MaskKernel<<<(packs + kThreads - 1) / kThreads, kThreads, 0, stream>>>(mask, n, draw);
}

}  // namespace medgemma::cuda
