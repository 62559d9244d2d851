// The fused CUDA kernels against the torch chains they replace, which the CPU runs in bf16 with the
// same float32 opmath and roundings. Needs a GPU: bench/gpu.sh runs this binary on the GPU machine
// (it is not a ctest test: CPU machines compile it but cannot run it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "engine/cuda_fusions.h"
#include "engine/layers.h"

namespace medgemma {
namespace {

torch::Tensor RandomBf16(std::vector<int64_t> shape, double scale, int seed) {
  torch::manual_seed(seed);
  return (torch::randn(shape) * scale).to(torch::kBFloat16);
}

// Differences allowed: a bf16 step or two where a float32 row reduction summed in another order
// lands on the other side of a rounding boundary, on a small share of the values.
void ExpectSameBf16(const torch::Tensor& fused, const torch::Tensor& chain) {
  auto a = fused.cpu().to(torch::kFloat), b = chain.to(torch::kFloat);
  ASSERT_EQ(a.sizes(), b.sizes());
  auto steps = (b.abs() + 1.0) * std::pow(2.0, -6);
  EXPECT_TRUE(((a - b).abs() <= steps).all().item<bool>()) << "max |d| " << (a - b).abs().max().item<float>();
  EXPECT_LT((a != b).to(torch::kFloat).mean().item<double>(), 0.01);
}

class CudaFusionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_FAIL() << "needs a CUDA device";
  }
  torch::NoGradGuard no_grad_;
};

TEST_F(CudaFusionsTest, RmsNormAndResidualMatchTheTorchChain) {
  for (int64_t cols : {256, 1152, 2560}) {
    auto x = RandomBf16({3, 37, cols}, 3.0, 1), w = RandomBf16({cols}, 0.5, 2), res = RandomBf16({3, 37, cols}, 4.0, 3);
    auto cuda = [](const torch::Tensor& t) { return t.to(torch::kCUDA); };
    ASSERT_TRUE(FusedGemmaRmsNorm(cuda(x), cuda(w), torch::Tensor(), 1e-6).has_value());
    ExpectSameBf16(GemmaRmsNorm(cuda(x), cuda(w), 1e-6), GemmaRmsNorm(x, w, 1e-6));
    ExpectSameBf16(AddGemmaRmsNorm(cuda(res), cuda(x), cuda(w), 1e-6), AddGemmaRmsNorm(res, x, w, 1e-6));
  }
}

TEST_F(CudaFusionsTest, NormRopeMatchesTheTorchChain) {
  const int64_t b = 2, len = 19, heads = 8, hd = 256;
  auto x = RandomBf16({b, len, heads, hd}, 2.0, 4), w = RandomBf16({hd}, 0.5, 5);
  auto angles = torch::rand({b, len, 1, hd / 2}) * 100;
  auto cos = torch::cat({angles.cos(), angles.cos()}, -1).to(torch::kBFloat16);
  auto sin = torch::cat({angles.sin(), angles.sin()}, -1).to(torch::kBFloat16);
  auto cuda = [](const torch::Tensor& t) { return t.to(torch::kCUDA); };
  ASSERT_TRUE(FusedGemmaRmsNormRope(cuda(x), cuda(w), cuda(cos), cuda(sin), 1e-6).has_value());
  ExpectSameBf16(GemmaRmsNormRope(cuda(x), cuda(w), cuda(cos), cuda(sin), 1e-6), GemmaRmsNormRope(x, w, cos, sin, 1e-6));
}

TEST_F(CudaFusionsTest, GeluMulMatchesTheTorchChain) {
  auto gate = RandomBf16({5, 11, 10240}, 3.0, 6), up = RandomBf16({5, 11, 10240}, 2.0, 7);
  ASSERT_TRUE(FusedGeluTanhMul(gate.cuda(), up.cuda()).has_value());
  ExpectSameBf16(GeluTanhMul(gate.cuda(), up.cuda()), GeluTanhMul(gate, up));
}

TEST_F(CudaFusionsTest, UnsupportedInputsFallBack) {
  auto x = RandomBf16({4, 2560}, 1.0, 8).cuda();
  auto w = RandomBf16({2560}, 1.0, 9).cuda();
  EXPECT_FALSE(FusedGemmaRmsNorm(x.to(torch::kFloat), w, torch::Tensor(), 1e-6).has_value());
  EXPECT_FALSE(FusedGemmaRmsNorm(x.t(), w, torch::Tensor(), 1e-6).has_value());
  EXPECT_FALSE(FusedGemmaRmsNorm(x.narrow(1, 0, 12).contiguous(), w.narrow(0, 0, 12).contiguous(), torch::Tensor(), 1e-6).has_value());
  torch::AutoGradMode grad(true);
  EXPECT_FALSE(FusedGemmaRmsNorm(x, w, torch::Tensor(), 1e-6).has_value());
}

}  // namespace
}  // namespace medgemma
