// The model side of the batch scheduler: runs a formed batch and completes its tasks. Today the
// classifier (server/classifier_executor.h). An executor may also stage a batch, launch it and
// return, completing the tasks from another thread while the scheduler forms the next batch.
#pragma once

#include "server/batching/batch.h"

namespace medgemma::server {

template <typename Task>
class BatchExecutor {
 public:
  virtual ~BatchExecutor() = default;

  // Called on the scheduler thread, one batch at a time, with no scheduler lock held. Completes
  // every task of `batch` exactly once, before returning or later on any thread.
  virtual void Execute(Batch<Task> batch) = 0;

  // How long a batch handed over now takes to answer. The scheduler fails a task whose deadline
  // falls sooner instead of running it. Called on the scheduler thread.
  virtual BatchClock::duration ExpectedBatchTime() const = 0;
};

}  // namespace medgemma::server
