// A formed batch: tasks of one group, in arrival order, that run together. What passes from the
// batch scheduler to a batch executor.
#pragma once

#include <chrono>
#include <vector>

namespace medgemma::server {

using BatchClock = std::chrono::steady_clock;

// Tasks share a batch only when their groups are equal. An identity (today the pinned adapter
// version), never dereferenced; whoever submits keeps the object alive while its tasks wait.
using BatchGroup = const void*;

template <typename Task>
struct Batch {
  BatchGroup group = nullptr;
  std::vector<Task> tasks;                         // oldest first
  std::vector<BatchClock::time_point> enqueued;    // when each task entered the queue, parallel to tasks
};

}  // namespace medgemma::server
