// The training data pipeline: the uint8 pixel cache (what it holds, its budget, sharing between
// threads) and the window prefetcher (order, bounded lead, errors, shutdown).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <thread>

#include "base/file_util.h"
#include "engine/training/pixel_cache.h"
#include "engine/training/window_prefetcher.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {
using testing::RandomPng;
using testing::TempDir;

std::vector<LabeledImage> WritePngs(const TempDir& dir, int count) {
  std::vector<LabeledImage> images;
  for (int i = 0; i < count; ++i) {
    const auto path = dir.path() / ("img" + std::to_string(i) + ".png");
    EXPECT_TRUE(WriteStringAtomically(path, RandomPng(40 + i, 30, i)).ok());
    images.push_back({path, i % 8});
  }
  return images;
}

// A small tower size keeps these tests fast.
PreprocessConfig Small() {
  PreprocessConfig config;
  config.size = 16;
  return config;
}

TEST(PixelCacheTest, BatchesAreTheResizedUint8PixelsInOrder) {
  TempDir dir;
  const auto images = WritePngs(dir, 3);
  const PreprocessConfig config = Small();
  PixelCache cache(config, int64_t{1} << 30);
  auto batch = cache.Batch(images, torch::kCPU);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->scalar_type(), torch::kUInt8);
  ASSERT_EQ(batch->sizes(), (std::vector<int64_t>{3, 3, 16, 16}));
  for (int i = 0; i < 3; ++i) {
    auto decoded = DecodeImage(*ReadFileToString(images[i].path), ImageLimits{});
    ASSERT_TRUE(decoded.ok());
    EXPECT_TRUE(torch::equal((*batch)[i], *ResizeImage(*decoded, config))) << "image " << i;
  }
  // Normalized, they are what the one-step preprocessing gives.
  auto one = PreprocessImageFile(images[1].path, config);
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(torch::equal(NormalizePixels((*batch)[1], config), *one));
}

TEST(PixelCacheTest, HoldsImagesUpToItsBudgetAndStillServesThoseBeyond) {
  TempDir dir;
  const auto images = WritePngs(dir, 3);
  const int64_t one_image = 3 * 16 * 16;
  PixelCache cache(Small(), 2 * one_image);
  ASSERT_TRUE(cache.Batch(images, torch::kCPU).ok());
  EXPECT_EQ(cache.cached_bytes(), 2 * one_image);
  // The first two come from memory now: deleting their files does not matter; the third is read again.
  std::filesystem::remove(images[0].path);
  std::filesystem::remove(images[1].path);
  EXPECT_TRUE(cache.Batch({images[0], images[1]}, torch::kCPU).ok());
  std::filesystem::remove(images[2].path);
  auto missing = cache.Batch({images[2]}, torch::kCPU);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(images[2].path.filename().string()), std::string::npos);
}

TEST(PixelCacheTest, ThreadsSharingTheCacheGetTheSamePixels) {
  TempDir dir;
  const auto images = WritePngs(dir, 6);
  PixelCache cache(Small(), int64_t{1} << 30);
  torch::Tensor a, b;
  std::thread other([&] { a = *cache.Batch(images, torch::kCPU); });
  b = *cache.Batch(images, torch::kCPU);
  other.join();
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_EQ(cache.cached_bytes(), 6 * 3 * 16 * 16);
}

WindowPrefetcher::Producer CountingProducer(std::atomic<int64_t>* taken, int depth, std::atomic<int>* too_far) {
  return [=](int64_t step) -> absl::StatusOr<TrainingWindow> {
    if (step - taken->load() > depth) ++*too_far;
    if (step == 4) return absl::NotFoundError("image 4 is gone");
    return TrainingWindow{TrainingMicroBatch{static_cast<uint64_t>(step), {}, {}}};
  };
}

TEST(WindowPrefetcherTest, HandsOutStepsInOrderNeverRunningMoreThanDepthAhead) {
  std::atomic<int64_t> taken{2};
  std::atomic<int> too_far{0};
  WindowPrefetcher prefetcher(CountingProducer(&taken, 2, &too_far), 2, 4, 2);
  for (int64_t step = 2; step < 4; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the worker run ahead
    auto window = prefetcher.Take(step);
    ASSERT_TRUE(window.ok()) << window.status();
    EXPECT_EQ(window->front().index, static_cast<uint64_t>(step));
    taken = step + 1;
  }
  EXPECT_EQ(too_far.load(), 0);
  EXPECT_EQ(prefetcher.Take(4).status().code(), absl::StatusCode::kInternal);  // past the end
}

TEST(WindowPrefetcherTest, AProducerErrorIsItsStepsAndEndsTheStream) {
  std::atomic<int64_t> taken{0};
  std::atomic<int> too_far{0};
  WindowPrefetcher prefetcher(CountingProducer(&taken, 3, &too_far), 3, 10, 3);
  EXPECT_EQ(prefetcher.Take(5).status().code(), absl::StatusCode::kInternal);  // out of order
  EXPECT_TRUE(prefetcher.Take(3).ok());
  auto failed = prefetcher.Take(4);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(prefetcher.Take(5).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(WindowPrefetcherTest, DestroyingItWithWindowsPendingStopsTheWorker) {
  std::atomic<int> produced{0};
  {
    WindowPrefetcher prefetcher(
        [&](int64_t step) -> absl::StatusOr<TrainingWindow> {
          ++produced;
          return TrainingWindow{TrainingMicroBatch{static_cast<uint64_t>(step), {}, {}}};
        },
        0, 1000, 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_LE(produced.load(), 2);
}

}  // namespace
}  // namespace medgemma
