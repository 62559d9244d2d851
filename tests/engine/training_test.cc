// LoRA training pieces against their definitions: AdamW and clipping as torch computes them, the
// HF cosine schedule, sklearn's weighted F1, the data plan, loss masks, activation checkpointing
// (same gradients, same dropout masks) and resumption from a checkpoint.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>

#include "base/file_util.h"
#include "engine/layers.h"
#include "engine/lora_adapter.h"
#include "engine/rng_state.h"
#include "engine/training/adamw.h"
#include "engine/training/eval_metrics.h"
#include "engine/training/fine_tune_run.h"
#include "engine/training/lr_schedule.h"
#include "engine/training/training_batch.h"
#include "engine/training/training_plan.h"
#include "engine/training_lora_linear.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {
using testing::RandomPixels;
using testing::TempDir;
using testing::TinyBundle;

TEST(AdamWTest, MatchesTorchUpdateRuleOverTwoSteps) {
  auto p = torch::tensor({1.0f, -2.0f, 0.5f});
  AdamW::Options options;
  options.weight_decay = 0.1;
  AdamW adam({{"p", p}}, options);
  const std::vector<std::vector<float>> grads = {{0.5f, -1.0f, 2.0f}, {-0.25f, 0.75f, 1.0f}};
  std::vector<double> expected = {1.0, -2.0, 0.5}, m(3, 0), v(3, 0);
  const double lr = 0.01;
  for (int step = 1; step <= 2; ++step) {
    p.mutable_grad() = torch::tensor(grads[step - 1]);
    adam.Step(lr);
    for (int i = 0; i < 3; ++i) {
      const double g = grads[step - 1][i];
      expected[i] *= 1 - lr * options.weight_decay;
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      const double m_hat = m[i] / (1 - std::pow(0.9, step)), v_hat = v[i] / (1 - std::pow(0.999, step));
      expected[i] -= lr * m_hat / (std::sqrt(v_hat) + 1e-8);
    }
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p[i].item<double>(), expected[i], 1e-6);
  EXPECT_EQ(adam.steps(), 2);
}

TEST(AdamWTest, ClipGradNormScalesOnlyAboveTheLimit) {
  auto a = torch::zeros({2}), b = torch::zeros({1});
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});
  EXPECT_NEAR(ClipGradNorm({a, b}, 1.0).item<double>(), 5.0, 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 3.0 / (5.0 + 1e-6), 1e-6);
  EXPECT_NEAR(b.grad()[0].item<double>(), 4.0 / (5.0 + 1e-6), 1e-6);
  EXPECT_NEAR(ClipGradNorm({a, b}, 10.0).item<double>(), 1.0, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-5);
}

TEST(AdamWTest, SkipsParametersWithoutGradientsAndRestoresItsStepCount) {
  auto with = torch::tensor({1.0f}), without = torch::tensor({2.0f});
  AdamW adam({{"with", with}, {"without", without}}, {});
  with.mutable_grad() = torch::tensor({0.5f});
  adam.Step(0.1);
  EXPECT_FLOAT_EQ(without.item<float>(), 2.0f);
  EXPECT_LT(with.item<float>(), 1.0f);
  // A restored optimizer continues with the saved step's bias correction: its next update equals
  // the uninterrupted one's.
  auto resumed_param = with.clone();
  std::map<std::string, torch::Tensor> state;
  for (const auto& [name, t] : adam.State()) state[name] = t.clone();
  AdamW resumed({{"with", resumed_param}, {"without", torch::tensor({2.0f})}}, {});
  ASSERT_TRUE(resumed.LoadState(state, adam.steps()).ok());
  with.mutable_grad() = torch::tensor({-0.25f});
  resumed_param.mutable_grad() = torch::tensor({-0.25f});
  adam.Step(0.1);
  resumed.Step(0.1);
  EXPECT_TRUE(torch::equal(with, resumed_param));
}

TEST(CosineScheduleTest, WarmsUpLinearlyThenFollowsHalfACosine) {
  const auto s = CosineSchedule::Create(5e-4, 0.03, 100);
  EXPECT_EQ(s.warmup_steps, 3);  // ceil(0.03 * 100)
  EXPECT_DOUBLE_EQ(s.LearningRate(0), 0);
  EXPECT_NEAR(s.LearningRate(1), 5e-4 / 3, 1e-12);
  EXPECT_NEAR(s.LearningRate(3), 5e-4, 1e-12);
  EXPECT_NEAR(s.LearningRate(3 + 97 / 2.0), 2.5e-4, 1e-5);
  EXPECT_LT(s.LearningRate(99), 1e-6);
  EXPECT_GT(s.LearningRate(99), 0);
}

TEST(EvalMetricsTest, WeightedF1AndBinaryAsSklearnComputesThem) {
  const Task task = DefaultBreakHisTask();
  // truth 0,0,1,1,4,5 ; predicted 0,1,1,1,5,5: class 0 P=1 R=.5 F1=2/3; class 1 P=2/3 R=1 F1=.8;
  // class 4 F1=0; class 5 P=.5 R=1 F1=2/3. Weighted by support 2,2,1,1 over 6.
  const auto m = ComputeEvalMetrics(task, {0, 0, 1, 1, 4, 5}, {0, 1, 1, 1, 5, 5});
  EXPECT_NEAR(m.accuracy, 4.0 / 6, 1e-9);
  EXPECT_NEAR(m.f1_weighted, (2 * (2.0 / 3) + 2 * 0.8 + 0 + 2.0 / 3) / 6, 1e-9);
  EXPECT_NEAR(m.binary_accuracy, 1.0, 1e-9);  // benign stays benign, malignant stays malignant
  EXPECT_NEAR(m.binary_f1, 1.0, 1e-9);
  EXPECT_EQ(m.confusion.size(), 64u);
  EXPECT_EQ(m.confusion[0 * 8 + 1], 1);
  EXPECT_EQ(m.confusion[4 * 8 + 5], 1);
}

TEST(TrainingPlanTest, EveryExampleOncePerEpochInASeededOrder) {
  const TrainingPlan plan(21, 2, 4, 3, 0, 7);
  EXPECT_EQ(plan.micro_batches_per_epoch(), 11);
  EXPECT_EQ(plan.steps_per_epoch(), 3);  // 4 + 4 + 3 micro-batches
  EXPECT_EQ(plan.total_steps(), 9);
  std::vector<std::vector<int64_t>> orders(3);
  for (int64_t step = 0; step < plan.total_steps(); ++step) {
    for (const auto& micro : plan.ForStep(step)) {
      for (int64_t e : micro.examples) orders[plan.EpochOf(step)].push_back(e);
    }
  }
  for (const auto& order : orders) {
    EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 21u);
    EXPECT_EQ(order.size(), 21u);
  }
  EXPECT_NE(orders[0], orders[1]);
  EXPECT_EQ(plan.ForStep(2).size(), 3u);
  EXPECT_TRUE(plan.EndsEpoch(2));
  EXPECT_EQ(TrainingPlan(21, 2, 4, 3, 0, 7).ForStep(4)[1].examples, plan.ForStep(4)[1].examples);
  EXPECT_EQ(TrainingPlan(21, 2, 4, 3, 5, 7).total_steps(), 5);
}

TEST(TrainingSequencesTest, LossMasksFollowTheNotebookAndAnswerOnlyModes) {
  const auto& b = TinyBundle();
  const Task task = DefaultBreakHisTask();
  auto full = TrainingSequences::Create(b.tokenizer.get(), b.model->config(), b.add_bos_token, task,
                                        LossMode::kFullSequence);
  auto answer = TrainingSequences::Create(b.tokenizer.get(), b.model->config(), b.add_bos_token, task,
                                          LossMode::kAnswerOnly);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_TRUE(answer.ok()) << answer.status();
  const auto& f = full->ForLabel(3);
  const auto& a = answer->ForLabel(3);
  const auto& ids = f.tokens.ids;
  EXPECT_EQ(ids.back(), b.tokenizer->PieceToId("<end_of_turn>"));
  EXPECT_EQ(ids[ids.size() - 2], b.tokenizer->PieceToId("3"));
  EXPECT_EQ(a.loss_tokens, 2);  // the answer and <end_of_turn>
  int64_t expected_full = 0;
  for (size_t t = 1; t < ids.size(); ++t) {
    const bool image = f.tokens.token_type_ids[t] == 1 || ids[t] == b.model->config().boi_token_id;
    EXPECT_EQ(f.labels[t] == -100, image) << "position " << t;
    expected_full += !image;
  }
  EXPECT_EQ(f.loss_tokens, expected_full);
  EXPECT_GT(f.loss_tokens, 20);
}

// Gradients of the summed loss w.r.t. every LoRA tensor, with the given dropout seed.
std::vector<torch::Tensor> LoraGradients(bool checkpoint, double dropout) {
  const auto& b = TinyBundle();
  LoraConfig config;
  config.dropout = dropout;
  auto adapter = LoraAdapter::Create(config, b.model->weights(), torch::kCPU, 3).value();
  std::vector<torch::Tensor> params;
  torch::manual_seed(3);
  for (auto& [name, w] : adapter->Modules()) {
    torch::NoGradGuard no_grad;
    w->b.normal_(0, 0.05);  // non-zero B so A gets gradients too
    w->a.requires_grad_(true);
    w->b.requires_grad_(true);
    params.push_back(w->a);
    params.push_back(w->b);
  }
  auto seqs = TrainingSequences::Create(b.tokenizer.get(), b.model->config(), b.add_bos_token, DefaultBreakHisTask(),
                                        LossMode::kFullSequence)
                  .value();
  torch::manual_seed(11);
  auto loss = SummedTokenLoss(*b.model, {&seqs.ForLabel(1), &seqs.ForLabel(6)}, RandomPixels(2, 5),
                              LoraContext{adapter.get(), true, checkpoint});
  loss.backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) grads.push_back(p.grad().clone());
  return grads;
}

TEST(ActivationCheckpointTest, RecomputedLayersGiveTheSameGradientsWithDropout) {
  const auto plain = LoraGradients(false, 0.1);
  const auto checkpointed = LoraGradients(true, 0.1);
  ASSERT_EQ(plain.size(), checkpointed.size());
  double largest = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    largest = std::max(largest, plain[i].abs().max().item<double>());
    EXPECT_TRUE(torch::allclose(plain[i], checkpointed[i], 1e-5, 1e-7)) << "tensor " << i;
  }
  EXPECT_GT(largest, 0);
}

// TrainingLoraLinear's own backward against autograd through plain ops, the dropout mask drawn
// from the same generator state; the frozen base weight and bias get no gradient.
TEST(TrainingLoraLinearTest, GradientsMatchAutogradWithAndWithoutDropout) {
  for (double p : {0.0, 0.3}) {
    torch::manual_seed(5);
    auto x = torch::randn({2, 7, 12}).requires_grad_(true);
    const auto weight = torch::randn({10, 12}) * 0.2, bias = torch::randn({10});
    auto a = (torch::randn({4, 12}) * 0.3).requires_grad_(true);
    auto b = (torch::randn({10, 4}) * 0.3).requires_grad_(true);
    const auto upstream = torch::randn({2, 7, 10});
    const auto state = GeneratorState(DeviceGenerator(torch::kCPU));
    auto y = TrainingLoraLinear(x, weight, bias, a, b, 2.0, p);
    y.backward(upstream);
    std::vector<torch::Tensor> ours{x.grad().clone(), a.grad().clone(), b.grad().clone()};
    for (auto* t : {&x, &a, &b}) t->mutable_grad().zero_();

    SetGeneratorState(DeviceGenerator(torch::kCPU), state);
    auto dropped = p > 0 ? x * torch::empty_like(x).bernoulli_(1 - p).div_(1 - p) : x;
    auto expected = torch::linear(x, weight, bias) + torch::linear(torch::linear(dropped, a), b) * 2.0;
    expected.backward(upstream);
    EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-5)) << "p=" << p;
    const std::vector<torch::Tensor> reference{x.grad(), a.grad(), b.grad()};
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_TRUE(torch::allclose(ours[i], reference[i], 1e-5, 1e-5)) << "p=" << p << " gradient " << i;
    }
    if (p > 0) {
      auto undropped = torch::linear(x, weight, bias) + torch::linear(torch::linear(x, a), b) * 2.0;
      EXPECT_FALSE(torch::allclose(y, undropped)) << "dropout dropped nothing";
    }
  }
}

TEST(TrainingLoraLinearTest, Bf16InputsGiveFloat32ParameterGradients) {
  torch::manual_seed(6);
  auto x = torch::randn({3, 16}).to(torch::kBFloat16).requires_grad_(true);
  const auto weight = torch::randn({5, 16}).to(torch::kBFloat16);
  auto a = (torch::randn({2, 16}) * 0.3).requires_grad_(true);
  auto b = (torch::randn({5, 2}) * 0.3).requires_grad_(true);
  auto y = TrainingLoraLinear(x, weight, torch::Tensor(), a, b, 1.5, 0.1);
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  y.sum().backward();
  EXPECT_EQ(x.grad().scalar_type(), torch::kBFloat16);
  EXPECT_EQ(a.grad().scalar_type(), torch::kFloat);
  EXPECT_EQ(b.grad().scalar_type(), torch::kFloat);
  EXPECT_GT(a.grad().abs().sum().item<double>(), 0);
}

// An activation applied inside the layer (kept: its inputs; recomputed in backward) gives what
// autograd through the activation's own ops and then the layer gives, bit for bit in bf16.
TEST(TrainingLoraLinearTest, InputActivationsMatchAutogradThroughTheirOps) {
  for (auto activation : {InputActivation::kGeluTanh, InputActivation::kGeluTanhMul}) {
    torch::manual_seed(8);
    auto x = torch::randn({2, 5, 16}).to(torch::kBFloat16).requires_grad_(true);
    auto up = torch::randn({2, 5, 16}).to(torch::kBFloat16).requires_grad_(true);
    const auto weight = (torch::randn({6, 16}) * 0.2).to(torch::kBFloat16);
    auto a = (torch::randn({4, 16}) * 0.3).requires_grad_(true);
    auto b = (torch::randn({6, 4}) * 0.3).requires_grad_(true);
    const auto upstream = torch::randn({2, 5, 6}).to(torch::kBFloat16);
    const bool gated = activation == InputActivation::kGeluTanhMul;
    auto run = [&](bool inside) {
      torch::manual_seed(9);  // the same dropout draws both ways
      // Inside also reads the step's casts of A and B (LoraAdapter::CastForTrainingStep); outside casts at each use.
      const LoraOperands step{a, b, a.detach().to(torch::kBFloat16), (b.detach() * 2.0).to(torch::kBFloat16), 2.0};
      auto y = inside ? TrainingLoraLinear(activation, x, gated ? up : torch::Tensor(), weight, torch::Tensor(), step,
                                           0.3)
                      : TrainingLoraLinear(gated ? GeluTanhMul(x, up) : torch::gelu(x, "tanh"), weight,
                                           torch::Tensor(), a, b, 2.0, 0.3);
      y.backward(upstream);
      std::vector<torch::Tensor> grads{y.detach(), x.grad().clone(), a.grad().clone(), b.grad().clone()};
      if (gated) grads.push_back(up.grad().clone());
      for (auto* t : {&x, &up, &a, &b}) {
        if (t->grad().defined()) t->mutable_grad().zero_();
      }
      return grads;
    };
    const auto inside = run(true), outside = run(false);
    ASSERT_EQ(inside.size(), outside.size());
    for (size_t i = 0; i < inside.size(); ++i) {
      EXPECT_TRUE(torch::equal(inside[i], outside[i])) << "activation " << static_cast<int>(activation) << " value " << i;
    }
    EXPECT_GT(inside[1].abs().sum().item<double>(), 0);
  }
}

// A checkpointed block's first pass runs with autograd off: it must compute what the recomputation
// (autograd on, same generator state) computes, dropout draws included.
TEST(TrainingLoraLinearTest, AutogradOffGivesTheSameOutputAndDraws) {
  torch::manual_seed(7);
  const auto x = torch::randn({4, 9}), weight = torch::randn({6, 9});
  const auto a = torch::randn({3, 9}).requires_grad_(true), b = torch::randn({6, 3}).requires_grad_(true);
  const auto state = GeneratorState(DeviceGenerator(torch::kCPU));
  torch::Tensor off;
  {
    torch::NoGradGuard no_grad;
    off = TrainingLoraLinear(x, weight, torch::Tensor(), a, b, 2.0, 0.5);
  }
  SetGeneratorState(DeviceGenerator(torch::kCPU), state);
  const auto on = TrainingLoraLinear(x, weight, torch::Tensor(), a, b, 2.0, 0.5);
  EXPECT_TRUE(on.requires_grad());
  EXPECT_TRUE(torch::equal(off, on.detach()));
}

FineTuneSpec TinySpec(const std::filesystem::path& image_dir) {
  FineTuneSpec spec;
  spec.adapter_name = "t";
  spec.task = DefaultBreakHisTask();
  for (int i = 0; i < 12; ++i) {
    const auto path = image_dir / ("img" + std::to_string(i) + ".png");
    const std::string png = testing::RandomPng(40 + i, 30, 100 + i);
    EXPECT_TRUE(WriteStringAtomically(path, png).ok());
    (i < 9 ? spec.data.train : spec.data.eval).push_back({path, i % 8});
  }
  spec.options.micro_batch_size = 2;
  spec.options.gradient_accumulation_steps = 2;
  spec.options.epochs = 2;
  spec.options.learning_rate = 1e-2;
  spec.options.checkpoint_every_steps = 2;
  return spec;
}

TEST(FineTuneRunTest, ResumedRunEndsWithTheUninterruptedRunsAdapter) {
  TempDir dir;
  const FineTuneSpec spec = TinySpec(dir.path() / "images");
  const auto& bundle = TinyBundle();
  auto straight = RunFineTune(bundle, spec, dir.path() / "straight", {});
  ASSERT_TRUE(straight.ok()) << straight.status();
  EXPECT_EQ(straight->progress.total_steps, 6);  // ceil(5 micro / 2) = 3 per epoch
  EXPECT_EQ(straight->progress.per_epoch.size(), 2u);

  int steps_seen = 0;
  FineTuneCallbacks stop_after_three;
  stop_after_three.on_progress = [&](const FineTuneProgress& p) { steps_seen = static_cast<int>(p.step); };
  stop_after_three.cancelled = [&] { return steps_seen >= 3; };
  auto interrupted = RunFineTune(bundle, spec, dir.path() / "resumed", stop_after_three);
  EXPECT_EQ(interrupted.status().code(), absl::StatusCode::kCancelled);
  auto resumed = RunFineTune(bundle, spec, dir.path() / "resumed", {});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->progress.resumed_from_step, 3);  // the epoch-end checkpoint after step 3
  EXPECT_EQ(resumed->step_losses, straight->step_losses);

  auto a = LoraAdapter::Load(straight->adapter_dir, bundle.model->weights(), torch::kCPU);
  auto b = LoraAdapter::Load(resumed->adapter_dir, bundle.model->weights(), torch::kCPU);
  ASSERT_TRUE(a.ok() && b.ok());
  const auto ma = (*a)->Modules(), mb = (*b)->Modules();
  ASSERT_EQ(ma.size(), mb.size());
  double moved = 0;
  for (size_t i = 0; i < ma.size(); ++i) {
    EXPECT_LE((ma[i].second->a - mb[i].second->a).abs().max().item<double>(), 1e-5);
    EXPECT_LE((ma[i].second->b - mb[i].second->b).abs().max().item<double>(), 1e-5);
    moved = std::max(moved, ma[i].second->b.abs().max().item<double>());
  }
  EXPECT_GT(moved, 0);  // training changed B away from its zero start
}

}  // namespace
}  // namespace medgemma
