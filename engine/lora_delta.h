// The LoRA delta B(A(dropout(x))) * scale for training, as one autograd function that keeps only
// what its backward needs: x itself (the layer's own tensor, shared by every projection reading it;
// peft keeps a float32 copy per projection), the rank-r intermediate, and the random generator's
// state, from which backward draws the dropout mask again (peft keeps the mask). The GEMMs take
// x's dtype (bf16 operands, float32 accumulation inside the GEMM); A and B stay float32
// parameters and get float32 gradients.
#pragma once

#include <torch/types.h>

namespace medgemma {

// delta in x's dtype; a (r, in) and b (out, r) are the adapter's parameters.
torch::Tensor TrainingLoraDelta(const torch::Tensor& x, const torch::Tensor& a, const torch::Tensor& b, double scale,
                                double dropout);

}  // namespace medgemma
