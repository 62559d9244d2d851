// LoRA's dropout without the dropped copy of the input: the mask is a pure function of (seed,
// offset, element index), drawn inside the kernels that read x, so forward and backward draw the
// same one and nothing of it is stored. Replaces, per adapted linear, torch's dropout kernel (x read,
// a dropped copy and a byte mask written, all again in backward), the down-projection GEMM over the
// copy, and in backward the masked scale and the add into the input gradient.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace medgemma::cuda {

// A Philox4x32-10 stream: element e of a call keeps its value when the 24-bit uniform drawn for
// it (counter e / 4 with the call's offset, component e % 4) is below 1 - p.
struct DropoutDraw {
  uint64_t seed = 0;
  uint64_t offset = 0;
  float p = 0;
};

// The ranks the kernels are instantiated for.
bool LoraDropoutSupports(int64_t rank, int64_t cols);

// t (rows, rank) = bf16(sum_i bf16(x * keep / (1 - p))[:, i] * a[:, i]), accumulated in float32 as
// the GEMM over torch's dropped copy is. x (rows, cols) and a (rank, cols) contiguous, cols % 4 == 0.
void LaunchLoraDropoutDown(const __nv_bfloat16* x, const __nv_bfloat16* a, __nv_bfloat16* t, int64_t rows,
                           int64_t cols, int64_t rank, DropoutDraw draw, cudaStream_t stream);

// Backward of the above: grad_x (rows, cols) += bf16(keep / (1 - p) * (grad_t a)) when grad_x is
// given, and partials (chunks, rank, cols) float32 with sum over chunks = grad_t^T dropped(x), for
// chunks = LoraDropoutChunks(rows, cols).
void LaunchLoraDropoutBackward(const __nv_bfloat16* x, const __nv_bfloat16* grad_t, const __nv_bfloat16* a,
                               __nv_bfloat16* grad_x, float* partials, int64_t rows, int64_t cols, int64_t rank,
                               DropoutDraw draw, cudaStream_t stream);
int64_t LoraDropoutChunks(int64_t rows, int64_t cols);

// The keep mask (rows, cols) as 0/1 bytes: what the kernels above draw, for tests.
void LaunchLoraDropoutMask(uint8_t* mask, int64_t rows, int64_t cols, DropoutDraw draw, cudaStream_t stream);

}  // namespace medgemma::cuda
