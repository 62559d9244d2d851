#include "engine/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "base/file_util.h"
#include "engine/safetensors.h"
#include "engine/tiny_model.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using testing::TinyModelDir;

// The tiny checkpoint's tensors renamed by `rename` into dir/model.safetensors (+ config.json).
void WriteRenamed(const fs::path& dir, const std::function<std::string(const std::string&)>& rename,
                  const std::map<std::string, torch::Tensor>& extra = {}) {
  auto file = SafetensorsFile::Open(TinyModelDir() / "model.safetensors");
  ASSERT_TRUE(file.ok());
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [name, info] : file->tensors()) {
    const std::string renamed = rename(name);
    if (!renamed.empty()) tensors.emplace_back(renamed, file->Load(name)->clone());
  }
  for (const auto& [name, t] : extra) tensors.emplace_back(name, t);
  ASSERT_TRUE(WriteSafetensors(dir / "model.safetensors", tensors).ok());
  ASSERT_TRUE(WriteStringAtomically(dir / "config.json", *ReadFileToString(TinyModelDir() / "config.json")).ok());
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  if (s.rfind(from, 0) == 0) s = to + s.substr(from.size());
  return s;
}

torch::Tensor EmbeddingOf(const ModelWeights& w) { return w.text.embed_tokens; }

TEST(CheckpointTest, LoadsEveryAcceptedLayoutToTheSameWeights) {
  const ModelConfig config = TinyModelConfig();
  auto reference = LoadModelWeights(TinyModelDir(), config, torch::kCPU, torch::kFloat);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const std::vector<std::function<std::string(const std::string&)>> layouts = {
      // transformers 4.x hub checkpoint: vision tower under vision_model.
      [](const std::string& n) { return Replace(n, "vision_tower.", "vision_tower.vision_model."); },
      // transformers 5.17 in-memory module paths.
      [](const std::string& n) {
        return Replace(Replace(Replace(n, "language_model.model.", "model.language_model."), "vision_tower.",
                               "model.vision_tower."),
                       "multi_modal_projector.", "model.multi_modal_projector.");
      },
  };
  for (const auto& layout : layouts) {
    TempDir dir;
    WriteRenamed(dir.path(), layout);
    auto loaded = LoadModelWeights(dir.path(), config, torch::kCPU, torch::kFloat);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    auto ref_slots = reference->Slots(config);
    auto got_slots = loaded->Slots(config);
    for (size_t i = 0; i < ref_slots.size(); ++i) {
      EXPECT_TRUE(torch::equal(*ref_slots[i].tensor, *got_slots[i].tensor)) << ref_slots[i].name;
    }
  }
}

TEST(CheckpointTest, ShardedSaveLoadsBackIdentically) {
  const ModelConfig config = TinyModelConfig();
  auto weights = LoadModelWeights(TinyModelDir(), config, torch::kCPU, torch::kFloat);
  ASSERT_TRUE(weights.ok());
  TempDir dir;
  ASSERT_TRUE(SaveModelCheckpoint(dir.path(), config, *weights, /*max_shard_bytes=*/100000).ok());
  EXPECT_TRUE(fs::exists(dir.path() / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir.path() / "model.safetensors"));
  int shards = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) shards += e.path().extension() == ".safetensors";
  EXPECT_GT(shards, 2);
  auto loaded = LoadModelWeights(dir.path(), config, torch::kCPU, torch::kBFloat16);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(EmbeddingOf(*loaded).scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(EmbeddingOf(*loaded), EmbeddingOf(*weights).to(torch::kBFloat16)));
}

TEST(CheckpointTest, MissingUnknownAndMisshapenTensorsAreNamed) {
  const ModelConfig config = TinyModelConfig();
  TempDir missing;
  WriteRenamed(missing.path(), [](const std::string& n) {
    return n == "language_model.model.layers.1.mlp.up_proj.weight" ? "" : n;
  });
  auto a = LoadModelWeights(missing.path(), config, torch::kCPU, torch::kFloat);
  EXPECT_NE(std::string(a.status().message()).find("missing tensors: model.language_model.layers.1.mlp.up_proj.weight"),
            std::string::npos) << a.status();

  TempDir unknown;
  WriteRenamed(unknown.path(), [](const std::string& n) { return n; }, {{"vision_tower.head.probe", torch::zeros({2})}});
  auto b = LoadModelWeights(unknown.path(), config, torch::kCPU, torch::kFloat);
  EXPECT_NE(std::string(b.status().message()).find("unknown tensors: vision_tower.head.probe"), std::string::npos)
      << b.status();

  TempDir shaped;
  WriteRenamed(shaped.path(), [](const std::string& n) { return n == "language_model.model.norm.weight" ? "" : n; },
               {{"language_model.model.norm.weight", torch::zeros({65})}});
  auto c = LoadModelWeights(shaped.path(), config, torch::kCPU, torch::kFloat);
  EXPECT_NE(std::string(c.status().message()).find("wrong shapes: language_model.model.norm.weight [65]"),
            std::string::npos) << c.status();
}

TEST(CheckpointTest, IndexMayNotPointOutsideTheDirectory) {
  TempDir dir;
  ASSERT_TRUE(WriteStringAtomically(dir.path() / "config.json", *ReadFileToString(TinyModelDir() / "config.json")).ok());
  ASSERT_TRUE(WriteStringAtomically(dir.path() / "model.safetensors.index.json",
                                    R"({"weight_map": {"x": "../model.safetensors"}})").ok());
  auto loaded = LoadModelWeights(dir.path(), TinyModelConfig(), torch::kCPU, torch::kFloat);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(loaded.status().message()).find("not a plain file name"), std::string::npos);
  TempDir empty;
  EXPECT_EQ(LoadModelWeights(empty.path(), TinyModelConfig(), torch::kCPU, torch::kFloat).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace medgemma
