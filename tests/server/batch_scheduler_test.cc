// The batch scheduler without a model: the formation policy (BatchQueue) judged at made-up times,
// and the scheduler thread driving a fake executor that records batches and can hold one open.
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "server/batching/batch_queue.h"
#include "server/batching/batch_scheduler.h"
#include "server/batching/batch_time_estimate.h"

namespace medgemma::server {
namespace {
using std::chrono::hours;
using std::chrono::milliseconds;
using Ids = std::vector<int>;

// Every task's completion: OK when the executor ran it, the drop's status when it was failed.
class Completions {
 public:
  void Record(int id, absl::Status status) {
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(statuses_.emplace(id, std::move(status)).second) << "task " << id << " completed twice";
  }

  // Waits (10 s at most) until `n` tasks have completed.
  std::map<int, absl::Status> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return statuses_.size() >= n; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10))) << "only " << statuses_.size();
    return statuses_;
  }

 private:
  absl::Mutex mu_;
  std::map<int, absl::Status> statuses_ ABSL_GUARDED_BY(mu_);
};

struct FakeTask {
  int id;
  Completions* completions = nullptr;
  void Fail(absl::Status status) { completions->Record(id, std::move(status)); }
};

Ids IdsOf(const Batch<FakeTask>& batch) {
  Ids ids;
  for (const FakeTask& t : batch.tasks) ids.push_back(t.id);
  return ids;
}

// Records each batch, then completes its tasks with OK. While the gate is closed, Execute holds
// the batch it got, as a long model run would.
class FakeExecutor final : public BatchExecutor<FakeTask> {
 public:
  explicit FakeExecutor(BatchClock::duration expected = {}) : expected_(expected) {}

  void Execute(Batch<FakeTask> batch) override {
    {
      absl::MutexLock lock(&mu_);
      batches_.push_back(IdsOf(batch));
      started_.push_back(BatchClock::now());
      threads_.push_back(std::this_thread::get_id());
      mu_.Await(absl::Condition(&open_));
    }
    for (FakeTask& t : batch.tasks) t.completions->Record(t.id, absl::OkStatus());
  }
  BatchClock::duration ExpectedBatchTime() const override { return expected_; }

  void SetOpen(bool open) {
    absl::MutexLock lock(&mu_);
    open_ = open;
  }
  // Waits (10 s at most) until `n` batches have started.
  std::vector<Ids> WaitForBatches(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return batches_.size() >= n; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10))) << "only " << batches_.size();
    return batches_;
  }
  std::vector<Ids> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  BatchClock::time_point started(size_t i) {
    absl::MutexLock lock(&mu_);
    return started_.at(i);
  }
  std::vector<std::thread::id> threads() {
    absl::MutexLock lock(&mu_);
    return threads_;
  }

 private:
  const BatchClock::duration expected_;
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  std::vector<Ids> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<BatchClock::time_point> started_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread::id> threads_ ABSL_GUARDED_BY(mu_);
};

BatchPolicy Policy(int max_batch_size, BatchClock::duration max_queue_delay, std::vector<int> preferred = {},
                   int max_queue_size = 64) {
  return {max_batch_size, std::move(preferred), max_queue_delay, max_queue_size};
}

// Two groups: only their addresses matter.
const int kGroupA = 0, kGroupB = 0;
const BatchGroup kA = &kGroupA, kB = &kGroupB;

// ---- The policy, at made-up times.

const BatchClock::time_point t0 = BatchClock::time_point() + hours(1);

class BatchQueueTest : public ::testing::Test {
 protected:
  void Add(BatchQueue<FakeTask>& queue, int id, BatchClock::time_point now, Admission admission = {kA}) {
    ASSERT_TRUE(queue.Add({id, &completions_}, std::move(admission), now).ok());
  }
  static Ids Take(BatchQueue<FakeTask>& queue, BatchClock::time_point now, bool flush = false) {
    auto batch = queue.TakeReady(now, flush);
    return batch ? IdsOf(*batch) : Ids{};
  }
  Completions completions_;
};

TEST_F(BatchQueueTest, BatchesKeepArrivalOrderAndTheSizeLimit) {
  BatchQueue<FakeTask> queue(Policy(4, {}));
  for (int id = 0; id < 6; ++id) Add(queue, id, t0);
  EXPECT_EQ(Take(queue, t0), (Ids{0, 1, 2, 3}));
  EXPECT_EQ(Take(queue, t0), (Ids{4, 5}));
  EXPECT_TRUE(queue.empty());
}

TEST_F(BatchQueueTest, AFullBatchRunsWithoutWaitingForTheDelay) {
  BatchQueue<FakeTask> queue(Policy(3, hours(1)));
  Add(queue, 0, t0);
  Add(queue, 1, t0);
  EXPECT_EQ(Take(queue, t0), Ids{});
  Add(queue, 2, t0);
  EXPECT_EQ(Take(queue, t0), (Ids{0, 1, 2}));
}

TEST_F(BatchQueueTest, PreferredSizesCutABatchEarly) {
  BatchQueue<FakeTask> queue(Policy(8, hours(1), {2, 4}));
  Add(queue, 0, t0);
  EXPECT_EQ(Take(queue, t0), Ids{});
  Add(queue, 1, t0);
  EXPECT_EQ(Take(queue, t0), (Ids{0, 1}));
  for (int id = 2; id < 5; ++id) Add(queue, id, t0);
  EXPECT_EQ(Take(queue, t0), (Ids{2, 3}));  // three waiting: the largest preferred size they reach
  EXPECT_EQ(Take(queue, t0), Ids{});
  for (int id = 5; id < 8; ++id) Add(queue, id, t0);
  EXPECT_EQ(Take(queue, t0), (Ids{4, 5, 6, 7}));
}

TEST_F(BatchQueueTest, TheMaxDelayReleasesAPartialBatch) {
  BatchQueue<FakeTask> queue(Policy(8, milliseconds(10)));
  Add(queue, 0, t0);
  Add(queue, 1, t0 + milliseconds(4));
  EXPECT_EQ(Take(queue, t0 + milliseconds(9)), Ids{});
  EXPECT_EQ(queue.NextWake(milliseconds(5)), t0 + milliseconds(10));
  auto batch = queue.TakeReady(t0 + milliseconds(10), false);
  ASSERT_TRUE(batch);
  EXPECT_EQ(IdsOf(*batch), (Ids{0, 1}));
  EXPECT_EQ(batch->group, kA);
  EXPECT_EQ(batch->enqueued, (std::vector<BatchClock::time_point>{t0, t0 + milliseconds(4)}));
}

TEST_F(BatchQueueTest, FlushTakesAGroupBeforeItIsDue) {
  BatchQueue<FakeTask> queue(Policy(8, hours(1)));
  Add(queue, 0, t0);
  EXPECT_EQ(Take(queue, t0), Ids{});
  EXPECT_EQ(Take(queue, t0, true), Ids{0});
}

TEST_F(BatchQueueTest, TasksThatCannotFinishBeforeTheirDeadlineAreDropped) {
  BatchQueue<FakeTask> queue(Policy(8, hours(1)));
  const auto batch_time = milliseconds(5);
  Add(queue, 0, t0, {kA, t0 + milliseconds(4)});
  Add(queue, 1, t0, {kA, t0 + milliseconds(100)});
  Add(queue, 2, t0);
  auto dead = queue.TakeDead(t0, batch_time);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].first.id, 0);
  EXPECT_EQ(dead[0].second.code(), absl::StatusCode::kDeadlineExceeded);
  // The next look is due when task 1's deadline comes within a batch time.
  EXPECT_EQ(queue.NextWake(batch_time), t0 + milliseconds(95));
  EXPECT_TRUE(queue.TakeDead(t0 + milliseconds(94), batch_time).empty());
  dead = queue.TakeDead(t0 + milliseconds(95), batch_time);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].first.id, 1);
  EXPECT_EQ(queue.size(), 1);
}

TEST_F(BatchQueueTest, CancelledTasksAreDropped) {
  BatchQueue<FakeTask> queue(Policy(8, hours(1)));
  bool cancelled = false;
  Add(queue, 0, t0, {kA, BatchClock::time_point::max(), [&] { return cancelled; }});
  Add(queue, 1, t0);
  EXPECT_TRUE(queue.TakeDead(t0, {}).empty());
  cancelled = true;
  auto dead = queue.TakeDead(t0, {});
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].first.id, 0);
  EXPECT_EQ(dead[0].second.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Take(queue, t0, true), Ids{1});
}

TEST_F(BatchQueueTest, AFullQueueRefusesWithResourceExhausted) {
  BatchQueue<FakeTask> queue(Policy(1, {}, {}, 2));
  Add(queue, 0, t0);
  Add(queue, 1, t0);
  const absl::Status refused = queue.Add({2, &completions_}, {kA}, t0);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_EQ(Take(queue, t0), Ids{0});
  Add(queue, 2, t0);  // room again
  EXPECT_EQ(queue.size(), 2);
}

TEST_F(BatchQueueTest, GroupsNeverMixAndTheOldestTaskPicksTheGroup) {
  BatchQueue<FakeTask> queue(Policy(2, {}));
  const BatchGroup groups[] = {kA, kB, kA, kB, kA};
  for (int id = 0; id < 5; ++id) Add(queue, id, t0, {groups[id]});
  EXPECT_EQ(Take(queue, t0), (Ids{0, 2}));
  EXPECT_EQ(Take(queue, t0), (Ids{1, 3}));  // task 1 is now the oldest
  EXPECT_EQ(Take(queue, t0), Ids{4});
}

TEST(BatchTimeEstimateTest, MovesAFifthOfTheWayPerBatch) {
  BatchTimeEstimate estimate(milliseconds(10));
  EXPECT_EQ(estimate.Get(), milliseconds(10));
  estimate.Observe(milliseconds(20));
  EXPECT_EQ(estimate.Get(), milliseconds(12));
  estimate.Observe(milliseconds(2));
  EXPECT_EQ(estimate.Get(), milliseconds(10));
}

// ---- The scheduler thread with a fake executor.

class BatchSchedulerTest : public ::testing::Test {
 protected:
  absl::Status Submit(BatchScheduler<FakeTask>& scheduler, int id, Admission admission = {kA}) {
    return scheduler.Submit({id, &completions_}, std::move(admission));
  }
  Completions completions_;
};

TEST_F(BatchSchedulerTest, QueuedTasksRunInGroupsInArrivalOrderOnOneThread) {
  FakeExecutor executor;
  executor.SetOpen(false);
  std::vector<int> depths;  // written under the scheduler's lock, read after Stop
  BatchScheduler<FakeTask> scheduler(Policy(8, {}), &executor, [&](int depth) { depths.push_back(depth); });
  ASSERT_TRUE(Submit(scheduler, 0).ok());
  executor.WaitForBatches(1);  // the executor now holds batch {0}; the rest queue behind it
  const BatchGroup groups[] = {kA, kA, kB, kA, kB, kA};
  for (int id = 1; id < 6; ++id) ASSERT_TRUE(Submit(scheduler, id, {groups[id]}).ok());
  executor.SetOpen(true);
  EXPECT_EQ(executor.WaitForBatches(3), (std::vector<Ids>{{0}, {1, 3, 5}, {2, 4}}));
  for (const auto& [id, status] : completions_.WaitFor(6)) EXPECT_TRUE(status.ok()) << id << ": " << status;
  scheduler.Stop();
  const auto threads = executor.threads();
  for (const auto& t : threads) EXPECT_EQ(t, threads[0]);
  EXPECT_NE(threads[0], std::this_thread::get_id());
  EXPECT_EQ(scheduler.executed_requests(), 6);
  EXPECT_EQ(depths.back(), 0);
  EXPECT_EQ(*std::max_element(depths.begin(), depths.end()), 5);
}

TEST_F(BatchSchedulerTest, TheMaxDelayFiresAPartialBatch) {
  FakeExecutor executor;
  BatchScheduler<FakeTask> scheduler(Policy(8, milliseconds(50)), &executor, {});
  const auto before = BatchClock::now();
  ASSERT_TRUE(Submit(scheduler, 0).ok());
  EXPECT_EQ(executor.WaitForBatches(1), std::vector<Ids>{Ids{0}});
  EXPECT_GE(executor.started(0) - before, milliseconds(50));
}

TEST_F(BatchSchedulerTest, APreferredSizeRunsWithoutWaitingForTheDelay) {
  FakeExecutor executor;
  BatchScheduler<FakeTask> scheduler(Policy(8, hours(1), {2}), &executor, {});
  ASSERT_TRUE(Submit(scheduler, 0).ok());
  ASSERT_TRUE(Submit(scheduler, 1).ok());
  EXPECT_EQ(executor.WaitForBatches(1), std::vector<Ids>{(Ids{0, 1})});
}

TEST_F(BatchSchedulerTest, ExpiredAndCancelledTasksNeverReachTheExecutor) {
  FakeExecutor executor(hours(1));  // any deadline sooner than an hour cannot be met
  BatchScheduler<FakeTask> scheduler(Policy(8, {}), &executor, {});
  ASSERT_TRUE(Submit(scheduler, 0, {kA, BatchClock::now() + std::chrono::minutes(1)}).ok());
  ASSERT_TRUE(Submit(scheduler, 1, {kA, BatchClock::time_point::max(), [] { return true; }}).ok());
  ASSERT_TRUE(Submit(scheduler, 2).ok());
  const auto statuses = completions_.WaitFor(3);
  EXPECT_EQ(statuses.at(0).code(), absl::StatusCode::kDeadlineExceeded) << statuses.at(0);
  EXPECT_EQ(statuses.at(1).code(), absl::StatusCode::kCancelled) << statuses.at(1);
  EXPECT_TRUE(statuses.at(2).ok()) << statuses.at(2);
  scheduler.Stop();
  EXPECT_EQ(executor.batches(), std::vector<Ids>{Ids{2}});
  EXPECT_EQ(scheduler.executed_requests(), 1);
}

TEST_F(BatchSchedulerTest, AFullQueueRefusesWithResourceExhausted) {
  FakeExecutor executor;
  executor.SetOpen(false);
  BatchScheduler<FakeTask> scheduler(Policy(1, {}, {}, 2), &executor, {});
  ASSERT_TRUE(Submit(scheduler, 0).ok());
  executor.WaitForBatches(1);  // task 0 left the queue for the executor
  ASSERT_TRUE(Submit(scheduler, 1).ok());
  ASSERT_TRUE(Submit(scheduler, 2).ok());
  EXPECT_EQ(Submit(scheduler, 3).code(), absl::StatusCode::kResourceExhausted);
  executor.SetOpen(true);
  const auto statuses = completions_.WaitFor(3);
  scheduler.Stop();
  EXPECT_EQ(executor.batches(), (std::vector<Ids>{{0}, {1}, {2}}));
  EXPECT_EQ(statuses.count(3), 0u);  // refused tasks are the caller's to answer
}

TEST_F(BatchSchedulerTest, StopRunsEverythingAdmittedThenRefuses) {
  FakeExecutor executor;
  BatchScheduler<FakeTask> scheduler(Policy(8, hours(1)), &executor, {});
  for (int id = 0; id < 5; ++id) ASSERT_TRUE(Submit(scheduler, id).ok());
  EXPECT_TRUE(executor.batches().empty());  // nothing is due for an hour
  scheduler.Stop();
  EXPECT_EQ(executor.batches(), std::vector<Ids>{(Ids{0, 1, 2, 3, 4})});
  for (const auto& [id, status] : completions_.WaitFor(5)) EXPECT_TRUE(status.ok()) << id << ": " << status;
  EXPECT_EQ(Submit(scheduler, 5).code(), absl::StatusCode::kUnavailable);
  scheduler.Stop();  // again: nothing left to do
}

TEST_F(BatchSchedulerTest, StopDuringABatchDrainsWhatWaitsBehindIt) {
  FakeExecutor executor;
  executor.SetOpen(false);
  BatchScheduler<FakeTask> scheduler(Policy(2, hours(1)), &executor, {});
  ASSERT_TRUE(Submit(scheduler, 0).ok());
  ASSERT_TRUE(Submit(scheduler, 1).ok());
  executor.WaitForBatches(1);  // the executor holds the full batch {0, 1}
  ASSERT_TRUE(Submit(scheduler, 2, {kB}).ok());
  ASSERT_TRUE(Submit(scheduler, 3, {kA}).ok());  // neither is due for an hour
  std::thread stopper([&] { scheduler.Stop(); });
  // Whatever is admitted before Stop takes hold still runs; after that, submits are refused.
  int admitted = 4;
  for (int id = 100;; ++id) {
    const absl::Status status = Submit(scheduler, id);
    if (!status.ok()) {
      EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
      break;
    }
    ++admitted;
    std::this_thread::sleep_for(milliseconds(1));
  }
  executor.SetOpen(true);
  stopper.join();
  const auto statuses = completions_.WaitFor(admitted);
  EXPECT_EQ(static_cast<int>(statuses.size()), admitted);
  for (const auto& [id, status] : statuses) EXPECT_TRUE(status.ok()) << id << ": " << status;
  EXPECT_EQ(scheduler.executed_requests(), admitted);
}

}  // namespace
}  // namespace medgemma::server
