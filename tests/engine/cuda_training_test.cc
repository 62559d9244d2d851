// The training LoRA linear on the GPU, where torch's dropout kernel draws differently from the
// CPU's: the mask backward regenerates must be the one forward drew, with autograd on or off (a
// checkpointed block's two passes). Needs a GPU: bench/train_gpu.sh runs this binary on the GPU
// machine (not a ctest test: CPU machines compile it but cannot run it).
#include <gtest/gtest.h>
#include <torch/torch.h>

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
};

TEST_F(CudaTrainingTest, GradientsMatchAutogradThroughTheSameMask) {
  const double p = 0.1, scale = 2.0;
  auto x = Bf16({2, 300, 256}, 1.0).requires_grad_(true);
  const auto weight = Bf16({192, 256}, 0.05), bias = Bf16({192}, 0.1);
  auto a = (torch::randn({8, 256}, torch::kCUDA) * 0.05).requires_grad_(true);
  auto b = (torch::randn({192, 8}, torch::kCUDA) * 0.05).requires_grad_(true);
  const auto upstream = Bf16({2, 300, 192}, 1.0);
  const auto generator = DeviceGenerator(torch::kCUDA);
  const auto state = GeneratorState(generator);
  auto y = TrainingLoraLinear(x, weight, bias, a, b, scale, p);
  y.backward(upstream);
  const std::vector<torch::Tensor> ours{x.grad().clone(), a.grad().clone(), b.grad().clone()};
  for (auto* t : {&x, &a, &b}) t->mutable_grad().zero_();

  // The reference in float32 through plain autograd, with the mask torch's kernel draws from the
  // same state on the same (N, in) rows.
  SetGeneratorState(generator, state);
  const auto mask = std::get<1>(at::native_dropout(x.detach().reshape({-1, 256}), p, true)).view(x.sizes());
  auto xf = x.to(torch::kFloat);
  auto dropped = xf * mask.to(torch::kFloat) / (1 - p);
  auto expected = torch::linear(xf, weight.to(torch::kFloat), bias.to(torch::kFloat)) +
                  torch::linear(torch::linear(dropped, a), b) * scale;
  expected.backward(upstream.to(torch::kFloat));
  auto close = [](const torch::Tensor& ours, const torch::Tensor& ref) {
    const double err = (ours.to(torch::kFloat) - ref).abs().max().item<double>();
    return err <= 2e-2 * ref.abs().max().item<double>() + 1e-3;
  };
  EXPECT_TRUE(close(y.detach(), expected.detach()));
  EXPECT_TRUE(close(ours[0], x.grad())) << "x";
  EXPECT_TRUE(close(ours[1], a.grad())) << "A";
  EXPECT_TRUE(close(ours[2], b.grad())) << "B";
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
