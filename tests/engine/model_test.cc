// Behaviour of the forward pass on the tiny model: batching, padding, KV-cached generation,
// masks and classification readout.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "engine/attention.h"
#include "engine/chat_prompt.h"
#include "engine/classifier.h"
#include "engine/generator.h"
#include "engine/prompt_batch.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {
using testing::RandomPixels;
using testing::TinyBundle;

Classifier TinyClassifier() {
  const auto& b = TinyBundle();
  auto c = Classifier::Create(b.model, *b.tokenizer, DefaultBreakHisTask(), b.add_bos_token);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

ChatPrompt TinyChat() {
  const auto& b = TinyBundle();
  return *ChatPrompt::Create(b.tokenizer.get(), b.model->config(), b.add_bos_token);
}

TEST(ClassifierTest, ProbabilitiesSumToOneOverTheLabels) {
  auto probs = TinyClassifier().Classify(RandomPixels(3, 7), nullptr);
  ASSERT_TRUE(probs.ok()) << probs.status();
  ASSERT_EQ(probs->sizes(), (std::vector<int64_t>{3, 8}));
  EXPECT_TRUE(torch::allclose(probs->sum(1), torch::ones({3}), 1e-6, 1e-6));
  EXPECT_GE(probs->min().item<float>(), 0.0f);
  // Different images give different answers: the image reaches the readout.
  EXPECT_GT(((*probs)[0] - (*probs)[1]).abs().max().item<float>(), 1e-6);
}

TEST(ClassifierTest, LabelTokensAreTheDigitsAfterThePrompt) {
  const auto& b = TinyBundle();
  const Classifier c = TinyClassifier();
  for (int d = 0; d < 8; ++d) EXPECT_EQ(c.label_token_ids()[d], b.tokenizer->PieceToId(std::to_string(d)));
  Task bad = DefaultBreakHisTask();
  bad.labels[0].answer = "benign adenosis";
  EXPECT_EQ(Classifier::Create(b.model, *b.tokenizer, bad, true).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClassifierTest, BatchOfNEqualsNSingleCalls) {
  const Classifier c = TinyClassifier();
  auto pixels = RandomPixels(5, 11);
  auto batch = c.Classify(pixels, nullptr);
  ASSERT_TRUE(batch.ok());
  for (int64_t i = 0; i < 5; ++i) {
    auto single = c.Classify(pixels.slice(0, i, i + 1), nullptr);
    ASSERT_TRUE(single.ok());
    EXPECT_TRUE(torch::allclose((*batch)[i], (*single)[0], 1e-5, 1e-6)) << i;
  }
}

TEST(ClassifierTest, RejectsPixelsOfTheWrongShape) {
  const Classifier c = TinyClassifier();
  EXPECT_EQ(c.Classify(torch::zeros({1, 3, 32, 32}), nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.Classify(torch::zeros({3, 64, 64}), nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelTest, PaddedBatchRowsEqualSingleCalls) {
  const auto& model = *TinyBundle().model;
  const ChatPrompt chat = TinyChat();
  const std::vector<std::string> texts = {"Short?", "A much longer question about the tissue in this slide, 3 lines.\n\nOk",
                                          "Answer with only the number (0-7):"};
  std::vector<PromptTokens> prompts;
  for (const auto& t : texts) prompts.push_back(chat.ForImageAndText(t));
  auto pixels = RandomPixels(3, 21);
  ModelInputs batch = BatchPrompts(prompts, 0);
  batch.pixel_values = pixels;
  auto logits = model.ForwardLogits(batch, nullptr);
  ASSERT_TRUE(logits.ok()) << logits.status();
  for (size_t i = 0; i < prompts.size(); ++i) {
    ModelInputs one = BatchPrompts({prompts[i]}, 0);
    one.pixel_values = pixels.slice(0, i, i + 1);
    auto single = model.ForwardLogits(one, nullptr);
    ASSERT_TRUE(single.ok());
    const int64_t n = prompts[i].ids.size();
    EXPECT_TRUE(torch::allclose((*logits)[i].slice(0, 0, n), (*single)[0], 1e-4, 1e-5)) << i;
  }
}

TEST(ModelTest, ImagePlaceholderCountMustMatchTheImages) {
  const auto& model = *TinyBundle().model;
  ModelInputs inputs = BatchPrompts({TinyChat().ForImageAndText("hi")}, 0);
  inputs.pixel_values = RandomPixels(2, 1);
  auto logits = model.ForwardLogits(inputs, nullptr);
  EXPECT_EQ(logits.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(logits.status().message()).find("image soft tokens"), std::string::npos) << logits.status();
}

TEST(GeneratorTest, KvCachedGreedyEqualsRecomputingTheWholeSequence) {
  const auto& b = TinyBundle();
  const ChatPrompt chat = TinyChat();
  const std::vector<PromptTokens> prompts = {chat.ForImageAndText("What is it?"),
                                             chat.ForImageAndText("Answer with only the number (0-7):")};
  auto pixels = RandomPixels(2, 31);
  GenerationOptions options;
  options.max_new_tokens = 6;
  auto generated = GenerateGreedy(*b.model, prompts, pixels, nullptr, options);
  ASSERT_TRUE(generated.ok()) << generated.status();
  for (size_t row = 0; row < prompts.size(); ++row) {
    ASSERT_EQ((*generated)[row].size(), 6u);
    PromptTokens sequence = prompts[row];
    for (int64_t step = 0; step < 6; ++step) {
      ModelInputs inputs = BatchPrompts({sequence}, 0);
      inputs.pixel_values = pixels.slice(0, row, row + 1);
      auto logits = b.model->ForwardLogits(inputs, nullptr);
      ASSERT_TRUE(logits.ok());
      const int64_t next = (*logits)[0][-1].argmax().item<int64_t>();
      EXPECT_EQ((*generated)[row][step], next) << "row " << row << " step " << step;
      sequence.ids.push_back(next);
      sequence.token_type_ids.push_back(0);
    }
  }
}

TEST(AttentionMaskTest, CausalImageBidirectionalAndWindowed) {
  // One sequence: text, image(3 tokens), text, padding.
  auto mask = torch::tensor({{1, 1, 1, 1, 1, 1, 0}}, torch::kLong);
  auto types = torch::tensor({{0, 1, 1, 1, 0, 0, 0}}, torch::kLong);
  TokenLayout layout = TokenLayout::FromMasks(mask, types);
  auto full = BuildAttentionMask(layout, layout, std::nullopt)[0][0];
  EXPECT_TRUE(full[1][3].item<bool>());   // image token sees a later token of its image
  EXPECT_FALSE(full[0][1].item<bool>());  // text does not see the future
  EXPECT_TRUE(full[5][0].item<bool>());
  EXPECT_FALSE(full[5][6].item<bool>());  // padding key
  EXPECT_TRUE(full[6].any().item<bool>());  // a padding query still has keys: no NaN
  auto window = BuildAttentionMask(layout, layout, 2)[0][0];
  EXPECT_TRUE(window[5][4].item<bool>());
  EXPECT_FALSE(window[5][3].item<bool>());  // 2 positions back is outside a window of 2
  EXPECT_TRUE(window[1][3].item<bool>());   // same image stays visible ahead
}

TEST(ModelOptionsTest, ParsesAndRejects) {
  EXPECT_EQ(ParseModelOptions("cpu", "auto")->dtype, torch::kFloat);
  EXPECT_EQ(ParseModelOptions("cpu", "bf16")->dtype, torch::kBFloat16);
  EXPECT_EQ(ParseModelOptions("gpu", "auto").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseModelOptions("cpu", "int4").status().code(), absl::StatusCode::kInvalidArgument);
  if (!torch::cuda::is_available()) {
    EXPECT_EQ(ParseModelOptions("cuda", "auto").status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(ModelTest, Bfloat16OnCpuStaysCloseToFloat32) {
  ModelOptions options;
  options.dtype = torch::kBFloat16;
  options.attention = AttentionBackend::kEager;
  auto bf16 = LoadModelBundle(testing::TinyModelDir(), options);
  ASSERT_TRUE(bf16.ok());
  auto c16 = Classifier::Create(bf16->model, *bf16->tokenizer, DefaultBreakHisTask(), bf16->add_bos_token);
  auto pixels = RandomPixels(2, 41);
  auto p16 = c16->Classify(pixels, nullptr);
  auto p32 = TinyClassifier().Classify(pixels, nullptr);
  ASSERT_TRUE(p16.ok() && p32.ok());
  EXPECT_LT((*p16 - *p32).abs().max().item<float>(), 0.02);
}

}  // namespace
}  // namespace medgemma
