// Prepares the windows of the next steps on a worker thread (files read, images decoded, resized
// and staged in pinned memory) while the device trains on the current one, so a step never waits
// for the CPU's image work on a cache miss. Steps are produced and taken in order; the worker
// stays at most `depth` windows ahead, which bounds the pinned memory it holds.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>

#include "engine/training/training_window.h"

namespace medgemma {

class WindowPrefetcher {
 public:
  // Called on the worker thread for steps first_step, first_step + 1, ... end_step - 1.
  using Producer = std::function<absl::StatusOr<TrainingWindow>(int64_t step)>;

  WindowPrefetcher(Producer produce, int64_t first_step, int64_t end_step, int depth);
  // Stops the worker after the window it is producing, if any.
  ~WindowPrefetcher();
  WindowPrefetcher(const WindowPrefetcher&) = delete;
  WindowPrefetcher& operator=(const WindowPrefetcher&) = delete;

  // The window of `step`, waiting for the worker if it is not ready. Steps must be taken in order;
  // a producer error is returned for its step.
  absl::StatusOr<TrainingWindow> Take(int64_t step);

 private:
  void Work();
  const Producer produce_;
  const int64_t end_step_;
  const int depth_;
  absl::Mutex mu_;
  std::deque<absl::StatusOr<TrainingWindow>> ready_ ABSL_GUARDED_BY(mu_);
  int64_t next_to_produce_ ABSL_GUARDED_BY(mu_);
  int64_t next_to_take_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;  // last: starts once the state above exists
};

}  // namespace medgemma
