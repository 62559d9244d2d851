// AdapterLoader with a fake prepare step that can stall: loads leave the caller's thread at once,
// a stalled load is answered DEADLINE_EXCEEDED and never published, the queue is bounded, and Stop
// answers everything still open.
#include "server/adapter_loader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace medgemma::server {
namespace {

// A prepare step that blocks while `stalled` until released; counts what was published.
struct FakeRegistry {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> stalled{true};
  std::atomic<int> published{0};

  AdapterLoader Loader(int max_waiting, absl::Duration timeout) {
    return AdapterLoader(
        [this](const std::string& name, const std::string&) -> absl::StatusOr<AdapterHandle> {
          if (stalled) released.wait();
          if (name == "bad") return absl::InvalidArgumentError("bad adapter");
          auto served = std::make_shared<ServedAdapter>();
          served->name = name;
          return AdapterHandle(served);
        },
        [this](AdapterHandle prepared, bool) {
          ++published;
          return prepared;
        },
        AdapterLoader::Options{max_waiting, timeout});
  }
};

using Result = absl::StatusOr<AdapterHandle>;

std::future<Result> Submit(AdapterLoader& loader, const std::string& name, absl::Status* submitted = nullptr) {
  auto promise = std::make_shared<std::promise<Result>>();
  absl::Status status = loader.Submit(name, "/adapters/" + name, false, [promise](Result r) { promise->set_value(r); });
  if (submitted) *submitted = status;
  if (!status.ok()) promise->set_value(status);
  return promise->get_future();
}

TEST(AdapterLoaderTest, AStalledLoadTimesOutWithoutBlockingTheCallerAndIsNeverPublished) {
  FakeRegistry fake;
  AdapterLoader loader = fake.Loader(4, absl::Milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  auto stalled = Submit(loader, "slow");
  auto queued = Submit(loader, "next");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));  // Submit never waits
  ASSERT_EQ(stalled.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(stalled.get().status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_EQ(queued.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(queued.get().status().code(), absl::StatusCode::kDeadlineExceeded);  // waited past its deadline
  fake.stalled = false;
  fake.release.set_value();
  auto fresh = Submit(loader, "fresh");
  ASSERT_EQ(fresh.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto result = fresh.get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)->name, "fresh");
  EXPECT_EQ(fake.published, 1);  // "slow" finished late and was dropped; "next" never ran
}

TEST(AdapterLoaderTest, ErrorsComeBackAndTheQueueIsBounded) {
  FakeRegistry fake;
  AdapterLoader loader = fake.Loader(2, absl::Minutes(1));
  auto running = Submit(loader, "bad");
  // Wait until the worker holds "bad", so exactly two can queue behind it.
  for (int i = 0; i < 100; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  absl::Status first, second, third;
  auto a = Submit(loader, "a", &first);
  auto b = Submit(loader, "b", &second);
  auto c = Submit(loader, "c", &third);
  EXPECT_TRUE(first.ok());
  EXPECT_TRUE(second.ok());
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  fake.stalled = false;
  fake.release.set_value();
  EXPECT_EQ(running.get().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(a.get().ok());
  EXPECT_TRUE(b.get().ok());
  EXPECT_EQ(fake.published, 2);
}

TEST(AdapterLoaderTest, StopAnswersEveryOpenLoad) {
  FakeRegistry fake;
  AdapterLoader loader = fake.Loader(4, absl::Minutes(1));
  auto running = Submit(loader, "x");
  auto waiting = Submit(loader, "y");
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    fake.release.set_value();
  });
  loader.Stop();
  EXPECT_EQ(running.get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(waiting.get().status().code(), absl::StatusCode::kUnavailable);
  absl::Status after;
  Submit(loader, "z", &after);
  EXPECT_EQ(after.code(), absl::StatusCode::kUnavailable);
  release.join();
  EXPECT_EQ(fake.published, 0);
}

}  // namespace
}  // namespace medgemma::server
