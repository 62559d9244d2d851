// Admits tasks from any thread into a BatchQueue and hands each formed batch to a BatchExecutor on
// its own thread, the one thread that calls the executor (and so, behind it, owns the model). No
// lock is held while the executor runs, so tasks keep arriving meanwhile; an executor that returns
// once a batch is launched lets the next batch form while this one computes. Tasks past their
// deadline or cancelled are failed on this thread and never reach the executor. Stop() drains:
// every admitted task is run or failed before the thread ends.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "server/batching/batch_executor.h"
#include "server/batching/batch_queue.h"

namespace medgemma::server {

template <typename Task>
class BatchScheduler {
 public:
  // `executor` outlives the scheduler. `on_queue_depth` (may be empty) hears the number of waiting
  // tasks after every change, with the scheduler's lock held: it must be quick and not call back.
  BatchScheduler(BatchPolicy policy, BatchExecutor<Task>* executor, std::function<void(int)> on_queue_depth)
      : executor_(executor), on_queue_depth_(std::move(on_queue_depth)), queue_(std::move(policy)),
        thread_([this] { Run(); }) {}
  ~BatchScheduler() { Stop(); }
  BatchScheduler(const BatchScheduler&) = delete;
  BatchScheduler& operator=(const BatchScheduler&) = delete;

  // RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE once stopping: the task is destroyed
  // uncompleted then, and the caller answers for it.
  absl::Status Submit(Task task, Admission admission) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::UnavailableError("shutting down: no new requests are admitted");
      absl::Status added = queue_.Add(std::move(task), std::move(admission), BatchClock::now());
      if (!added.ok()) return added;
      ReportDepthLocked();
    }
    changed_.Signal();
    return absl::OkStatus();
  }

  // Runs or fails every admitted task, then joins the thread. Idempotent; call from one thread.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    changed_.Signal();
    if (thread_.joinable()) thread_.join();
  }

  // Tasks handed to the executor so far.
  int64_t executed_requests() const {
    absl::MutexLock lock(&mu_);
    return executed_;
  }

 private:
  // What one turn of the thread does once the lock is released.
  struct Turn {
    std::vector<std::pair<Task, absl::Status>> dead;
    std::optional<Batch<Task>> batch;
    bool finished = false;
  };

  void Run() {
    for (;;) {
      Turn turn = NextTurn(executor_->ExpectedBatchTime());
      for (auto& [task, status] : turn.dead) task.Fail(std::move(status));
      if (turn.batch) executor_->Execute(*std::move(turn.batch));
      if (turn.finished) return;
    }
  }

  // Waits for work, takes what is dead and what is due; if neither, waits until the queue may have
  // changed (a submit, the oldest task falling due, a deadline coming near) and takes nothing.
  Turn NextTurn(BatchClock::duration batch_time) {
    absl::MutexLock lock(&mu_);
    while (!stopping_ && queue_.empty()) changed_.Wait(&mu_);
    const BatchClock::time_point now = BatchClock::now();
    Turn turn;
    turn.dead = queue_.TakeDead(now, batch_time);
    turn.batch = queue_.TakeReady(now, stopping_);
    turn.finished = stopping_ && queue_.empty();
    if (turn.batch) executed_ += static_cast<int64_t>(turn.batch->tasks.size());
    if (turn.batch || !turn.dead.empty()) {
      ReportDepthLocked();
    } else if (!turn.finished) {
      changed_.WaitWithTimeout(&mu_, absl::FromChrono(queue_.NextWake(batch_time) - now));
    }
    return turn;
  }

  void ReportDepthLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (on_queue_depth_) on_queue_depth_(queue_.size());
  }

  BatchExecutor<Task>* const executor_;
  const std::function<void(int)> on_queue_depth_;
  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // signalled on each submit and when stopping starts
  BatchQueue<Task> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t executed_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // runs Run(); declared last so it starts after everything it reads
};

}  // namespace medgemma::server
