#include "engine/training/window_prefetcher.h"

#include <absl/strings/str_cat.h>

namespace medgemma {

WindowPrefetcher::WindowPrefetcher(Producer produce, int64_t first_step, int64_t end_step, int depth)
    : produce_(std::move(produce)),
      end_step_(end_step),
      depth_(std::max(depth, 1)),
      next_to_produce_(first_step),
      next_to_take_(first_step),
      worker_([this] { Work(); }) {}

WindowPrefetcher::~WindowPrefetcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  worker_.join();
}

void WindowPrefetcher::Work() {
  while (true) {
    int64_t step;
    {
      absl::MutexLock lock(&mu_);
      auto room_or_stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || static_cast<int>(ready_.size()) < depth_;
      };
      mu_.Await(absl::Condition(&room_or_stop));
      if (stopping_ || next_to_produce_ >= end_step_) return;
      step = next_to_produce_;
    }
    absl::StatusOr<TrainingWindow> window = produce_(step);
    const bool failed = !window.ok();
    absl::MutexLock lock(&mu_);
    ready_.push_back(std::move(window));
    ++next_to_produce_;
    if (failed) {
      stopping_ = true;  // the run ends at this step; nothing after it is wanted
      return;
    }
  }
}

absl::StatusOr<TrainingWindow> WindowPrefetcher::Take(int64_t step) {
  absl::MutexLock lock(&mu_);
  if (step != next_to_take_ || step >= end_step_) {
    return absl::InternalError(absl::StrCat("window of step ", step, " asked for; the next one is ", next_to_take_,
                                            " of ", end_step_));
  }
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !ready_.empty() || stopping_; };
  mu_.Await(absl::Condition(&ready));
  if (ready_.empty()) return absl::FailedPreconditionError("the data pipeline stopped at an earlier step's error");
  absl::StatusOr<TrainingWindow> window = std::move(ready_.front());
  ready_.pop_front();
  ++next_to_take_;
  return window;
}

}  // namespace medgemma
