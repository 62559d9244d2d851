// The batch formation policy, as Triton's dynamic batcher and TF Serving's BatchScheduler have it:
// a bounded FIFO of tasks from which each batch is formed out of the oldest task's group, never
// mixing groups. It knows no model, no thread and no clock: every call is told the time it is
// judged at, so the policy is tested with made-up times. Not thread-safe: BatchScheduler holds its
// lock around every call.
#pragma once

#include <absl/status/status.h>
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "server/batching/batch.h"

namespace medgemma::server {

struct BatchPolicy {
  int max_batch_size = 1;                  // >= 1
  std::vector<int> preferred_batch_sizes;  // each in 1..max_batch_size
  BatchClock::duration max_queue_delay{};  // how long the oldest task may wait for company
  int max_queue_size = 1;                  // waiting tasks, all groups together
};

// What the queue needs to know of a task besides the task itself.
struct Admission {
  BatchGroup group = nullptr;
  BatchClock::time_point deadline = BatchClock::time_point::max();
  std::function<bool()> cancelled;  // may be empty; polled on the thread that owns the queue
};

// Task: movable, with `void Fail(absl::Status)`, which completes it without running it.
template <typename Task>
class BatchQueue {
 public:
  explicit BatchQueue(BatchPolicy policy) : policy_(std::move(policy)) {}

  // RESOURCE_EXHAUSTED when max_queue_size tasks wait already; the task is destroyed uncompleted.
  absl::Status Add(Task task, Admission admission, BatchClock::time_point now) {
    if (static_cast<int>(entries_.size()) >= policy_.max_queue_size) {
      return absl::ResourceExhaustedError(absl::StrCat("request queue is full (", policy_.max_queue_size, " waiting)"));
    }
    entries_.push_back({std::move(task), std::move(admission), now});
    return absl::OkStatus();
  }

  // Removes the tasks whose answer nobody can use: the deadline falls before a batch started now
  // could finish (`batch_time`: the executor's estimate), or the caller cancelled.
  std::vector<std::pair<Task, absl::Status>> TakeDead(BatchClock::time_point now, BatchClock::duration batch_time) {
    std::vector<std::pair<Task, absl::Status>> dead;
    std::deque<Entry> alive;
    for (Entry& e : entries_) {
      if (e.admission.deadline <= now + batch_time) {
        dead.emplace_back(std::move(e.task),
                          absl::DeadlineExceededError("deadline falls before the model could answer"));
      } else if (e.admission.cancelled && e.admission.cancelled()) {
        dead.emplace_back(std::move(e.task), absl::CancelledError("cancelled by the caller"));
      } else {
        alive.push_back(std::move(e));
      }
    }
    entries_ = std::move(alive);
    return dead;
  }

  // The next batch, if one is due at `now`: the oldest task's group, oldest first, at most
  // max_batch_size. All of it once it fills max_batch_size, or once the oldest task has waited
  // max_queue_delay, or when `flush`; otherwise the largest preferred size the group reaches;
  // otherwise nothing yet.
  std::optional<Batch<Task>> TakeReady(BatchClock::time_point now, bool flush) {
    if (entries_.empty()) return std::nullopt;
    const BatchGroup group = entries_.front().admission.group;
    const int available = CountUpToMax(group);
    const bool due = flush || available == policy_.max_batch_size ||
                     now >= entries_.front().enqueued + policy_.max_queue_delay;
    const int size = due ? available : LargestPreferredUpTo(available);
    if (size == 0) return std::nullopt;
    return Extract(group, size);
  }

  // When waiting can end without a new task: the oldest task falls due, or some task's deadline
  // comes within `batch_time` of the clock. Call only when not empty.
  BatchClock::time_point NextWake(BatchClock::duration batch_time) const {
    BatchClock::time_point wake = entries_.front().enqueued + policy_.max_queue_delay;
    for (const Entry& e : entries_) wake = std::min(wake, e.admission.deadline - batch_time);
    return wake;
  }

  int size() const { return static_cast<int>(entries_.size()); }
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    Task task;
    Admission admission;
    BatchClock::time_point enqueued;
  };

  int CountUpToMax(BatchGroup group) const {
    int n = 0;
    for (auto it = entries_.begin(); it != entries_.end() && n < policy_.max_batch_size; ++it) {
      n += it->admission.group == group;
    }
    return n;
  }

  int LargestPreferredUpTo(int available) const {
    int best = 0;
    for (int size : policy_.preferred_batch_sizes) {
      if (size <= available) best = std::max(best, size);
    }
    return best;
  }

  // Moves the oldest `size` tasks of `group` out, keeping everyone else in order.
  Batch<Task> Extract(BatchGroup group, int size) {
    Batch<Task> batch;
    batch.group = group;
    std::deque<Entry> rest;
    for (Entry& e : entries_) {
      if (e.admission.group == group && static_cast<int>(batch.tasks.size()) < size) {
        batch.tasks.push_back(std::move(e.task));
        batch.enqueued.push_back(e.enqueued);
      } else {
        rest.push_back(std::move(e));
      }
    }
    entries_ = std::move(rest);
    return batch;
  }

  const BatchPolicy policy_;
  std::deque<Entry> entries_;  // arrival order
};

}  // namespace medgemma::server
