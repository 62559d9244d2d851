// A running estimate of batch time for BatchExecutor::ExpectedBatchTime: an exponential moving
// average, seeded with a measured batch (the warm-up's). Thread-safe, so an executor that completes
// batches on its own thread can feed it while the scheduler thread reads it.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include "server/batching/batch.h"

namespace medgemma::server {

class BatchTimeEstimate {
 public:
  explicit BatchTimeEstimate(BatchClock::duration seed) : average_(seed) {}

  // Each batch moves the estimate a fifth of the way: it follows a change of load within a few
  // batches without jumping at one odd batch.
  void Observe(BatchClock::duration took) {
    absl::MutexLock lock(&mu_);
    average_ += (took - average_) / 5;
  }

  BatchClock::duration Get() const {
    absl::MutexLock lock(&mu_);
    return average_;
  }

 private:
  mutable absl::Mutex mu_;
  BatchClock::duration average_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medgemma::server
