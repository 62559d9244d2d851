// The training LoRA linear on the GPU, where torch's dropout kernel draws differently from the
// CPU's: the mask backward regenerates must be the one forward drew, with autograd on or off (a
// checkpointed block's two passes); the decoder's fused norms with their own backward and the
// activations the LoRA linear recomputes, against autograd through the torch ops they replace.
// Needs a GPU: bench/train_gpu.sh runs this binary on the GPU
// machine (not a ctest test: CPU machines compile it but cannot run it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "engine/cuda_fusions.h"
#include "engine/layers.h"
#include "engine/rng_state.h"
#include "engine/training_lora_linear.h"

namespace medgemma {
namespace {

class CudaTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_FAIL() << "needs a CUDA device";
    torch::manual_seed(11);
  }
  torch::Tensor Bf16(std::vector<int64_t> shape, double scale) {
    return (torch::randn(shape, torch::kCUDA) * scale).to(torch::kBFloat16);
  }
  // Within 2% of the reference's largest magnitude: a bf16 step or two apart.
  static bool close(const torch::Tensor& ours, const torch::Tensor& ref) {
    const double err = (ours.to(torch::kFloat) - ref.to(torch::kFloat)).abs().max().item<double>();
    return err <= 2e-2 * ref.abs().max().item<double>() + 1e-3;
  }
  // The input gradients `fn` gives for copies of `inputs` under `upstream`.
  static std::vector<torch::Tensor> InputGradients(
      const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& fn, const std::vector<torch::Tensor>& inputs,
      const torch::Tensor& upstream) {
    std::vector<torch::Tensor> leaves;
    for (const auto& t : inputs) leaves.push_back(t.detach().clone().requires_grad_(true));
    fn(leaves).backward(upstream);
    std::vector<torch::Tensor> grads;
    for (const auto& t : leaves) grads.push_back(t.grad());
    return grads;
  }
  // LoRA dropout kernels' gradients against float32 autograd through the mask they draw.
  void ExpectGradientsMatchAutogradThroughTheSameMask(int64_t rows_of_x, int64_t in) {
    const double p = 0.1, scale = 2.0;
    auto x = Bf16({2, rows_of_x, in}, 1.0).requires_grad_(true);
    const auto weight = Bf16({192, in}, 0.05), bias = Bf16({192}, 0.1);
    auto a = (torch::randn({8, in}, torch::kCUDA) * 0.05).requires_grad_(true);
    auto b = (torch::randn({192, 8}, torch::kCUDA) * 0.05).requires_grad_(true);
    const auto upstream = Bf16({2, rows_of_x, 192}, 1.0);
    const auto generator = DeviceGenerator(torch::kCUDA);
    const auto state = GeneratorState(generator);
    auto y = TrainingLoraLinear(x, weight, bias, a, b, scale, p);
    y.backward(upstream);
    const std::vector<torch::Tensor> ours{x.grad().clone(), a.grad().clone(), b.grad().clone()};
    for (auto* t : {&x, &a, &b}) t->mutable_grad().zero_();

    // The reference in float32 through plain autograd, with the mask the LoRA dropout kernels draw from the
    // same state on the same (N, in) rows.
    SetGeneratorState(generator, state);
    const auto rows = x.detach().reshape({-1, in});
    const auto draw = DrawLoraDropout(rows, a.detach().to(torch::kBFloat16), p);
    ASSERT_TRUE(draw.has_value()) << "rank 8 bf16 takes the kernels' dropout";
    const auto mask = LoraDropoutMask(rows, *draw).view(x.sizes());
    const double kept = mask.to(torch::kFloat).mean().item<double>();
    EXPECT_NEAR(kept, 1 - p, 0.01);
    auto xf = x.to(torch::kFloat);
    auto dropped = xf * mask.to(torch::kFloat) / (1 - p);
    auto expected = torch::linear(xf, weight.to(torch::kFloat), bias.to(torch::kFloat)) +
                    torch::linear(torch::linear(dropped, a), b) * scale;
    expected.backward(upstream.to(torch::kFloat));
    EXPECT_TRUE(close(y.detach(), expected.detach()));
    EXPECT_TRUE(close(ours[0], x.grad())) << "x";
    EXPECT_TRUE(close(ours[1], a.grad())) << "A";
    EXPECT_TRUE(close(ours[2], b.grad())) << "B";
  }
};

// transformers' float32 chain, as layers.cc runs it where the kernels do not apply.
torch::Tensor ChainRmsNorm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return at::rms_norm(x.to(torch::kFloat), {x.size(-1)}, 1.0 + w.to(torch::kFloat), eps).to(x.scalar_type());
}

TEST_F(CudaTrainingTest, FusedNormsBackwardMatchesTheChain) {
  const auto x = Bf16({3, 300, 2560}, 2.0), residual = Bf16({3, 300, 2560}, 1.0), w = Bf16({2560}, 0.3);
  const auto upstream = Bf16({3, 300, 2560}, 1.0);
  auto fused = InputGradients([&](auto in) { return AddGemmaRmsNorm(in[1], in[0], w, 1e-6); }, {x, residual}, upstream);
  auto chain = InputGradients([&](auto in) { return in[1] + ChainRmsNorm(in[0], w, 1e-6); }, {x, residual}, upstream);
  EXPECT_TRUE(close(fused[0], chain[0])) << "x";
  EXPECT_TRUE(torch::equal(fused[1], chain[1])) << "residual";
  EXPECT_GT(fused[0].abs().max().item<double>(), 0);

  const auto heads = Bf16({2, 300, 8, 256}, 3.0), qw = Bf16({256}, 0.3), upstream_heads = Bf16({2, 300, 8, 256}, 1.0);
  const auto angles = torch::rand({2, 300, 1, 256}, torch::kCUDA) * 6.28;
  const auto cos = angles.cos().to(torch::kBFloat16), sin = angles.sin().to(torch::kBFloat16);
  auto fused_rope = InputGradients([&](auto in) { return GemmaRmsNormRope(in[0], qw, cos, sin, 1e-6); }, {heads},
                                   upstream_heads);
  auto chain_rope = InputGradients(
      [&](auto in) {
        auto n = ChainRmsNorm(in[0], qw, 1e-6);
        auto rotated = torch::cat({-n.narrow(-1, 128, 128), n.narrow(-1, 0, 128)}, -1);
        return n * cos + rotated * sin;
      },
      {heads}, upstream_heads);
  EXPECT_TRUE(close(fused_rope[0], chain_rope[0])) << "q/k heads";
}

TEST_F(CudaTrainingTest, RecomputedActivationsMatchAutogradThroughTheirOps) {
  const auto weight = Bf16({192, 1024}, 0.05);
  const auto a = (torch::randn({8, 1024}, torch::kCUDA) * 0.05).requires_grad_(true);
  const auto b = (torch::randn({192, 8}, torch::kCUDA) * 0.05).requires_grad_(true);
  const auto gate = Bf16({2, 300, 1024}, 1.0), up = Bf16({2, 300, 1024}, 1.0), upstream = Bf16({2, 300, 192}, 1.0);
  auto inside = InputGradients(
      [&](auto in) {
        return TrainingLoraLinear(InputActivation::kGeluTanhMul, in[0], in[1], weight, torch::Tensor(),
                                  LoraOperands{a, b, {}, {}, 2.0}, 0.0);
      },
      {gate, up}, upstream);
  auto outside = InputGradients(
      [&](auto in) {
        return TrainingLoraLinear(torch::gelu(in[0], "tanh") * in[1], weight, torch::Tensor(), a, b, 2.0, 0.0);
      },
      {gate, up}, upstream);
  EXPECT_TRUE(close(inside[0], outside[0])) << "gate";
  EXPECT_TRUE(close(inside[1], outside[1])) << "up";
}

// Shapes: an even row count in one block of columns; an odd one over the vision MLP's 4304 columns,
// whose column blocks end in partly idle warps.
TEST_F(CudaTrainingTest, GradientsMatchAutogradThroughTheSameMask) {
  for (const auto& [rows_of_x, in] : {std::pair<int64_t, int64_t>{300, 256}, {301, 4304}}) {
    SCOPED_TRACE(testing::Message() << rows_of_x << " rows x " << in);
    ExpectGradientsMatchAutogradThroughTheSameMask(rows_of_x, in);
  }
}

// Each call draws a fresh mask, kept at rate 1 - p and not correlated across columns or calls.
TEST_F(CudaTrainingTest, KernelDropoutDrawsIndependentMasks) {
  const auto rows = Bf16({4096, 1152}, 1.0), a = Bf16({8, 1152}, 0.05);
  const auto first = DrawLoraDropout(rows, a, 0.1), second = DrawLoraDropout(rows, a, 0.1);
  ASSERT_TRUE(first && second);
  const auto m1 = LoraDropoutMask(rows, *first).to(torch::kFloat), m2 = LoraDropoutMask(rows, *second).to(torch::kFloat);
  EXPECT_NEAR(m1.mean().item<double>(), 0.9, 0.002);
  EXPECT_NEAR((m1 * m2).mean().item<double>(), 0.81, 0.002) << "two calls' masks should be independent";
  EXPECT_NEAR((m1.narrow(1, 0, 576) * m1.narrow(1, 576, 576)).mean().item<double>(), 0.81, 0.002);
  // Neighbouring packs of one row, and neighbouring rows, are drawn by partner lanes from one draw.
  EXPECT_NEAR((m1.narrow(1, 0, 1148) * m1.narrow(1, 4, 1148)).mean().item<double>(), 0.81, 0.002);
  EXPECT_NEAR((m1.narrow(0, 0, 4095) * m1.narrow(0, 1, 4095)).mean().item<double>(), 0.81, 0.002);
  EXPECT_NEAR(m1.mean(1).std().item<double>(), std::sqrt(0.09 / 1152), 0.003) << "rows drop alike on average";
}

TEST_F(CudaTrainingTest, AutogradOffDrawsWhatAutogradOnDraws) {
  const auto x = Bf16({4, 4096, 128}, 1.0), weight = Bf16({96, 128}, 0.05);
  const auto a = torch::randn({8, 128}, torch::kCUDA).requires_grad_(true);
  const auto b = torch::randn({96, 8}, torch::kCUDA).requires_grad_(true);
  const auto generator = DeviceGenerator(torch::kCUDA);
  const auto state = GeneratorState(generator);
  torch::Tensor off;
  {
    torch::NoGradGuard no_grad;
    off = TrainingLoraLinear(x, weight, torch::Tensor(), a, b, 2.0, 0.1);
  }
  SetGeneratorState(generator, state);
  const auto on = TrainingLoraLinear(x, weight, torch::Tensor(), a, b, 2.0, 0.1);
  EXPECT_TRUE(torch::equal(off, on.detach()));
}

}  // namespace
}  // namespace medgemma
