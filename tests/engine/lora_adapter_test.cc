#include "engine/lora_adapter.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>

#include "engine/classifier.h"
#include "base/file_util.h"
#include "engine/safetensors.h"
#include "base/sha256.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {
namespace fs = std::filesystem;
using testing::RandomPixels;
using testing::TempDir;
using testing::TinyBundle;

// An adapter with non-zero B, so it changes the output.
std::shared_ptr<LoraAdapter> TrainedLookingAdapter(LoraConfig config, uint64_t seed) {
  auto adapter = LoraAdapter::Create(config, TinyBundle().model->weights(), torch::kCPU, seed);
  EXPECT_TRUE(adapter.ok()) << adapter.status();
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& [name, w] : (*adapter)->Modules()) w->b.normal_(0.0, 0.2);
  return *adapter;
}

torch::Tensor Logits(const Gemma3Model& model, const LoraAdapter* adapter) {
  const auto& b = TinyBundle();
  auto chat = ChatPrompt::Create(b.tokenizer.get(), model.config(), true);
  const PromptTokens p = chat->ForImageAndText("Answer with only the number (0-7):");
  ModelInputs inputs{torch::tensor(p.ids).unsqueeze(0), torch::Tensor(), torch::Tensor(), RandomPixels(1, 5)};
  auto logits = model.ForwardLogits(inputs, adapter);
  EXPECT_TRUE(logits.ok()) << logits.status();
  return *logits;
}

TEST(LoraTargetsTest, ResolvesLikePeft) {
  const auto& w = TinyBundle().model->weights();
  EXPECT_EQ(ResolveTargetModules({"all-linear"}, w)->size(), 2u * 6 + 2u * 7);
  EXPECT_EQ(ResolveTargetModules({"q_proj"}, w)->size(), 4u);  // vision and text
  EXPECT_EQ(ResolveTargetModules({"fc1", "down_proj"}, w)->size(), 4u);
  EXPECT_EQ(ResolveTargetModules({R"(.*language_model.*\.mlp\..*)"}, w)->size(), 6u);
  auto unknown = ResolveTargetModules({"q_proj", "nope"}, w);
  EXPECT_NE(std::string(unknown.status().message()).find("'nope'"), std::string::npos);
}

// A backtracking matcher (std::regex) takes exponential time on these against a module path; the
// pattern comes from requests and adapter files (found by tests/fuzz, fine_tune_request).
TEST(LoraTargetsTest, PathologicalRegexesAnswerAtOnce) {
  const auto& w = TinyBundle().model->weights();
  const auto start = std::chrono::steady_clock::now();
  auto nested = ResolveTargetModules({"(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*x"}, w);
  EXPECT_EQ(nested.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(nested.status().message()).find("select no linear layer"), std::string::npos);
  auto possessive = ResolveTargetModules({".*+e_aflttN.*!!!!!!!!!!!!!!!!!!!"}, w);
  EXPECT_EQ(possessive.status().code(), absl::StatusCode::kInvalidArgument) << possessive.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(LoraAdapterTest, FreshAdapterHasPeftShapesAndChangesNothing) {
  LoraConfig config;
  auto adapter = LoraAdapter::Create(config, TinyBundle().model->weights(), torch::kCPU, 3);
  ASSERT_TRUE(adapter.ok());
  const auto& m = *TinyBundle().model;
  // r * (in + out) per module: vision 4 x (32+32) + fc1/fc2 (32+64) each; text from the tiny shapes.
  const int64_t vision = 2 * 8 * (4 * 64 + 2 * 96);
  const int64_t text = 2 * 8 * ((64 + 64) + 2 * (64 + 32) + (64 + 64) + 3 * (64 + 128));
  EXPECT_EQ((*adapter)->NumParameters(), vision + text);
  const auto* q = (*adapter)->ForLinear(m.weights().text.layers[0].q_proj.index);
  ASSERT_NE(q, nullptr);
  EXPECT_LE(q->a.abs().max().item<float>(), 1.0 / std::sqrt(64.0));
  EXPECT_EQ(q->b.abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::allclose(Logits(m, adapter->get()), Logits(m, nullptr)));
}

TEST(LoraAdapterTest, MergedEqualsUnmerged) {
  const auto& model = *TinyBundle().model;
  auto adapter = TrainedLookingAdapter(LoraConfig{}, 5);
  auto merged_weights = MergeLora(model.weights(), *adapter);
  ASSERT_TRUE(merged_weights.ok());
  auto merged = Gemma3Model::FromWeights(model.config(), *merged_weights, model.options());
  const auto unmerged = Logits(model, adapter.get());
  EXPECT_GT((unmerged - Logits(model, nullptr)).abs().max().item<float>(), 1e-3);  // the adapter matters
  EXPECT_TRUE(torch::allclose(Logits(*merged, nullptr), unmerged, 1e-4, 1e-5));
}

// The step casts follow the parameters: what each module reads in a step is what casting at
// every use would give, also after an optimizer-like in-place update and a change of dtype.
TEST(LoraAdapterTest, TrainingStepCastsFollowTheParameters) {
  LoraConfig config;
  config.alpha = 12;  // scale 1.5: not a power of two, so the scaling is not exact in bf16
  auto adapter = TrainedLookingAdapter(config, 9);
  for (torch::ScalarType dtype : {torch::kBFloat16, torch::kFloat}) {
    for (int update = 0; update < 2; ++update) {
      adapter->CastForTrainingStep(dtype);
      for (const auto& [name, w] : adapter->Modules()) {
        ASSERT_EQ(w->a_step.scalar_type(), dtype) << name;
        EXPECT_TRUE(torch::equal(w->a_step, w->a.to(dtype))) << name;
        EXPECT_TRUE(torch::equal(w->b_scaled_step, (w->b * 1.5).to(dtype))) << name;
        torch::NoGradGuard no_grad;
        w->a.add_(0.25);
        w->b.mul_(-2.0);
      }
    }
  }
}

TEST(LoraAdapterTest, SaveLoadRoundTripIsExactAndVersioned) {
  const auto& model = *TinyBundle().model;
  LoraConfig config;
  config.r = 4;
  config.alpha = 8;
  config.target_modules = {"q_proj", "v_proj", "down_proj"};
  auto adapter = TrainedLookingAdapter(config, 8);
  TempDir dir;
  ASSERT_TRUE(adapter->Save(dir.path()).ok());
  auto loaded = LoraAdapter::Load(dir.path(), model.weights(), torch::kCPU);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->version(), Sha256Hex(*ReadFileToString(dir.path() / "adapter_model.safetensors")));
  EXPECT_EQ((*loaded)->config().r, 4);
  EXPECT_EQ((*loaded)->Modules().size(), adapter->Modules().size());
  for (const auto& [name, w] : adapter->Modules()) {
    bool found = false;
    for (const auto& [loaded_name, lw] : (*loaded)->Modules()) {
      if (loaded_name != name) continue;
      found = true;
      EXPECT_TRUE(torch::equal(lw->a, w->a)) << name;
      EXPECT_TRUE(torch::equal(lw->b, w->b)) << name;
    }
    EXPECT_TRUE(found) << name;
  }
  EXPECT_TRUE(torch::equal(Logits(model, loaded->get()), Logits(model, adapter.get())));
  auto json = nlohmann::json::parse(*ReadFileToString(dir.path() / "adapter_config.json"));
  EXPECT_EQ(json["peft_type"], "LORA");
  EXPECT_EQ(json["lora_alpha"], 8.0);
  auto file = SafetensorsFile::Open(dir.path() / "adapter_model.safetensors");
  EXPECT_TRUE(file->Contains("base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_TRUE(file->Contains("base_model.model.model.vision_tower.encoder.layers.1.self_attn.v_proj.lora_B.weight"));
}

// Rewrites a saved adapter's files through `edit_config` / `rename_key`.
void Rewrite(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit_config,
             const std::function<std::string(const std::string&)>& rename_key) {
  auto cfg = nlohmann::json::parse(*ReadFileToString(dir / "adapter_config.json"));
  edit_config(cfg);
  ASSERT_TRUE(WriteStringAtomically(dir / "adapter_config.json", cfg.dump()).ok());
  auto file = SafetensorsFile::Open(dir / "adapter_model.safetensors");
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [name, info] : file->tensors()) {
    const std::string renamed = rename_key(name);
    if (!renamed.empty()) tensors.emplace_back(renamed, file->Load(name)->clone());
  }
  ASSERT_TRUE(WriteSafetensors(dir / "adapter_model.safetensors", tensors).ok());
}

TEST(LoraAdapterTest, AcceptsTransformersFourKeyLayout) {
  auto adapter = TrainedLookingAdapter(LoraConfig{}, 12);
  TempDir dir;
  ASSERT_TRUE(adapter->Save(dir.path()).ok());
  Rewrite(dir.path(), [](nlohmann::json&) {}, [](const std::string& k) {
    std::string out = k;
    const std::string from = "base_model.model.model.language_model.", to = "base_model.model.language_model.model.";
    if (out.rfind(from, 0) == 0) out = to + out.substr(from.size());
    return out;
  });
  auto loaded = LoraAdapter::Load(dir.path(), TinyBundle().model->weights(), torch::kCPU);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(torch::equal(Logits(*TinyBundle().model, loaded->get()), Logits(*TinyBundle().model, adapter.get())));
}

TEST(LoraAdapterTest, MismatchesAreRefusedByName) {
  auto adapter = TrainedLookingAdapter(LoraConfig{}, 13);
  const auto& base = TinyBundle().model->weights();
  auto expect_error = [&](const std::function<void(nlohmann::json&)>& edit,
                          const std::function<std::string(const std::string&)>& rename, const std::string& text) {
    TempDir dir;
    ASSERT_TRUE(adapter->Save(dir.path()).ok());
    Rewrite(dir.path(), edit, rename);
    auto loaded = LoraAdapter::Load(dir.path(), base, torch::kCPU);
    EXPECT_FALSE(loaded.ok()) << text;
    EXPECT_NE(std::string(loaded.status().message()).find(text), std::string::npos) << loaded.status();
  };
  auto same = [](const std::string& k) { return k; };
  expect_error([](nlohmann::json& c) { c["r"] = 4; }, same, "expected [4,");
  expect_error([](nlohmann::json& c) { c["target_modules"] = {"q_proj"}; }, same, "is not in target_modules");
  expect_error([](nlohmann::json& c) { c["use_dora"] = true; }, same, "DoRA");
  expect_error([](nlohmann::json& c) { c["modules_to_save"] = {"lm_head"}; }, same, "modules_to_save");
  expect_error([](nlohmann::json& c) { c["r"] = 0; }, same, "r must be > 0");
  expect_error([](nlohmann::json&) {}, [](const std::string& k) {
    return k.find("layers.0.mlp.up_proj.lora_B") != std::string::npos ? "" : k;
  }, "only one of lora_A / lora_B");
  expect_error([](nlohmann::json&) {}, [](const std::string& k) {
    return k.find("layers.0.mlp.up_proj.lora_A") != std::string::npos
               ? "base_model.model.model.language_model.layers.9.mlp.up_proj.lora_A.weight" : k;
  }, "names no linear layer");
  TempDir empty;
  EXPECT_EQ(LoraAdapter::Load(empty.path(), base, torch::kCPU).status().code(), absl::StatusCode::kNotFound);
}

TEST(LoraAdapterTest, HostileConfigsAreInvalidArgumentNotACrash) {
  auto adapter = TrainedLookingAdapter(LoraConfig{}, 14);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string fields = R"({"r": 8, "lora_alpha": 8, "target_modules": "all-linear", )";
  struct Case {
    std::string config;
    const char* expect;
  } cases[] = {
      {deep, "adapter_config.json: nesting deeper than 64 levels"},
      {fields + R"("peft_type": )" + deep + "}", "adapter_config.json: nesting deeper than 64 levels"},
      {"[]", "adapter_config.json is not a JSON object"},
      {fields + R"("use_dora": "yes"})", "adapter_config.json: [json.exception.type_error"},
      {fields + R"("r": 8)", "adapter_config.json is not valid JSON"},
      // Beyond int64 (a double to nlohmann): converting it was undefined behaviour (tests/fuzz).
      {R"({"r": 88888888888888888888888888888888888888888888, "target_modules": "all-linear"})",
       "adapter_config.json: r must be an integer"},
      {R"({"r": 8.5, "target_modules": "all-linear"})", "adapter_config.json: r must be an integer"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    ASSERT_TRUE(adapter->Save(dir.path()).ok());
    ASSERT_TRUE(WriteStringAtomically(dir.path() / "adapter_config.json", c.config).ok());
    auto loaded = LoraAdapter::Load(dir.path(), TinyBundle().model->weights(), torch::kCPU);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << c.expect << ": " << loaded.status();
    EXPECT_NE(std::string(loaded.status().message()).find(c.expect), std::string::npos) << loaded.status();
  }
}

TEST(LoraAdapterTest, SeveralAdaptersServeSideBySide) {
  const auto& b = TinyBundle();
  auto classifier = Classifier::Create(b.model, *b.tokenizer, DefaultBreakHisTask(), b.add_bos_token);
  auto first = TrainedLookingAdapter(LoraConfig{}, 21);
  auto second = TrainedLookingAdapter(LoraConfig{}, 22);
  auto pixels = RandomPixels(2, 3);
  auto p1 = classifier->Classify(pixels, first.get());
  auto p2 = classifier->Classify(pixels, second.get());
  auto p1_again = classifier->Classify(pixels, first.get());
  ASSERT_TRUE(p1.ok() && p2.ok() && p1_again.ok());
  EXPECT_GT((*p1 - *p2).abs().max().item<float>(), 1e-4);
  EXPECT_TRUE(torch::equal(*p1, *p1_again));
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace medgemma
