// The trainer's durability rule: every persisted state is validated on read, and one bad record or
// checkpoint fails that one job (falling back to the previous checkpoint where one exists) without
// affecting other jobs, listing or start-up. Strings from outside are made valid UTF-8 first.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "base/file_util.h"
#include "base/utf8.h"
#include "engine/lora_adapter.h"
#include "engine/training/adamw.h"
#include "engine/training/training_checkpoint.h"
#include "tests/engine/test_support.h"
#include "trainer/job_store.h"

namespace medgemma {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

trainer::JobRecord Job(const std::string& id, v1::JobState state) {
  trainer::JobRecord r;
  r.request.set_adapter_name("a");
  r.status.set_job_id(id);
  r.status.set_state(state);
  return r;
}

TEST(Utf8Test, RepairsEveryKindOfInvalidSequence) {
  EXPECT_TRUE(IsValidUtf8("plain ascii, \xC3\xA9t\xC3\xA9, \xF0\x9F\x94\xAC"));
  for (const std::string bad : {"\xFF", "\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "a\x80z"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
    EXPECT_TRUE(IsValidUtf8(ToValidUtf8(bad))) << bad;
  }
  EXPECT_EQ(ToValidUtf8("a\xFFz"), "a\xEF\xBF\xBDz");
}

TEST(JobStoreTest, InvalidUtf8FromAFileNameIsStoredRepairedAndReadsBack) {
  TempDir dir;
  auto store = trainer::JobStore::Open(dir.path() / "jobs.db");
  ASSERT_TRUE(store.ok()) << store.status();
  trainer::JobRecord record = Job("job-1", v1::QUEUED);
  record.request.mutable_dataset()->mutable_manifest()->set_train_csv("/data/\xFF\xFEtrain.csv");
  ASSERT_TRUE((*store)->Insert(record).ok());
  record.status.set_state(v1::FAILED);
  record.status.set_error("cannot open /data/\xC3(bad.png");
  ASSERT_TRUE((*store)->UpdateStatus(record.status).ok());
  auto listed = (*store)->List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].status.state(), v1::FAILED);
  EXPECT_EQ((*listed)[0].status.error(), "cannot open /data/\xEF\xBF\xBD(bad.png");
  EXPECT_TRUE(IsValidUtf8((*listed)[0].request.dataset().manifest().train_csv()));
}

TEST(JobStoreTest, AnUnreadableRecordFailsThatJobAndEveryOtherStillLists) {
  TempDir dir;
  const fs::path db_path = dir.path() / "jobs.db";
  {
    auto store = trainer::JobStore::Open(db_path);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Insert(Job("job-1", v1::SUCCEEDED)).ok());
    ASSERT_TRUE((*store)->Insert(Job("job-2", v1::RUNNING)).ok());
    ASSERT_TRUE((*store)->Insert(Job("job-3", v1::QUEUED)).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  // Bytes that are no protobuf at all, as a damaged page or a foreign writer would leave.
  ASSERT_EQ(sqlite3_exec(db, "UPDATE jobs SET status = x'ffffffff0a' WHERE job_id = 'job-2'", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = trainer::JobStore::Open(db_path);
  ASSERT_TRUE(store.ok());
  auto listed = (*store)->List();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].status.state(), v1::SUCCEEDED);
  EXPECT_EQ((*listed)[1].status.job_id(), "job-2");
  EXPECT_EQ((*listed)[1].status.state(), v1::FAILED);  // never resumed from a record it cannot read
  EXPECT_NE((*listed)[1].status.error().find("unreadable"), std::string::npos);
  EXPECT_EQ((*listed)[2].status.state(), v1::QUEUED);
}

class CheckpointFallbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto adapter = LoraAdapter::Create(LoraConfig{}, testing::TinyBundle().model->weights(), torch::kCPU, 7);
    ASSERT_TRUE(adapter.ok());
    adapter_ = *adapter;
    optimizer_ = std::make_unique<AdamW>(Params(*adapter_), AdamW::Options{});
  }
  static std::vector<std::pair<std::string, torch::Tensor>> Params(LoraAdapter& adapter) {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& [module, w] : adapter.Modules()) {
      out.emplace_back(module + ".a", w->a);
      out.emplace_back(module + ".b", w->b);
    }
    return out;
  }
  // Saves a checkpoint at `step` whose adapter B weights are all `value`.
  void Save(int64_t step, float value) {
    torch::NoGradGuard no_grad;
    for (auto& [module, w] : adapter_->Modules()) w->b.fill_(value);
    TrainingProgress progress;
    progress.step = step;
    progress.step_losses.assign(step, 1.0);
    ASSERT_TRUE(SaveTrainingCheckpoint(dir_.path(), identity_, *adapter_, *optimizer_, progress).ok());
  }
  absl::StatusOr<std::optional<TrainingProgress>> Load() {
    return LoadLatestTrainingCheckpoint(dir_.path(), identity_, *adapter_, *optimizer_);
  }
  float FirstB() { return adapter_->Modules()[0].second->b.view(-1)[0].item<float>(); }

  TempDir dir_;
  nlohmann::json identity_ = {{"run", 1}};
  std::shared_ptr<LoraAdapter> adapter_;
  std::unique_ptr<AdamW> optimizer_;
};

TEST_F(CheckpointFallbackTest, GarbageInLatestFallsBackToTheNewestCheckpoint) {
  Save(4, 0.25f);
  Save(8, 0.5f);
  ASSERT_TRUE(WriteStringAtomically(dir_.path() / "LATEST", "\xFF\xFE../../etc\n").ok());
  auto progress = Load();
  ASSERT_TRUE(progress.ok()) << progress.status();
  ASSERT_TRUE(progress->has_value());
  EXPECT_EQ((*progress)->step, 8);
  EXPECT_FLOAT_EQ(FirstB(), 0.5f);
}

TEST_F(CheckpointFallbackTest, ADamagedNewestCheckpointFallsBackToThePreviousOne) {
  Save(4, 0.25f);
  Save(8, 0.5f);
  Save(12, 0.75f);
  // Only the published checkpoint and the one before it are kept.
  EXPECT_FALSE(fs::exists(dir_.path() / "step-00000004"));
  ASSERT_TRUE(WriteStringAtomically(dir_.path() / "step-00000012" / "trainer_state.json", "{ not json").ok());
  auto progress = Load();
  ASSERT_TRUE(progress.ok()) << progress.status();
  EXPECT_EQ((*progress)->step, 8);
  EXPECT_FLOAT_EQ(FirstB(), 0.5f);
}

TEST_F(CheckpointFallbackTest, WhenNoCheckpointLoadsTheErrorSaysWhy) {
  Save(4, 0.25f);
  ASSERT_TRUE(WriteStringAtomically(dir_.path() / "step-00000004" / "state.safetensors", "garbage").ok());
  auto progress = Load();
  ASSERT_FALSE(progress.ok());
  EXPECT_NE(progress.status().message().find("step-00000004"), std::string::npos) << progress.status();
}

}  // namespace
}  // namespace medgemma
