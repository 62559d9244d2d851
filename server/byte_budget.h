// A bound on the bytes that requests hold while they wait and are processed (encoded image, decoded
// pixels, the model's input tensor): without it, a burst of large images (150 x 20 MB on one stream
// was seen to peak at 1.6 GB) takes the server's memory. Thread-safe.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>

#include <algorithm>
#include <cstdint>

namespace medgemma::server {

class ByteBudget {
 public:
  explicit ByteBudget(int64_t limit) : limit_(limit) {}

  // Takes `bytes` if they fit; a request larger than the whole limit fits only when nothing else
  // is held (so a lone large image is never refused, yet never shares the budget).
  bool TryAcquire(int64_t bytes) {
    absl::MutexLock lock(&mu_);
    if (in_use_ > 0 && in_use_ + bytes > limit_) return false;
    in_use_ += bytes;
    peak_ = std::max(peak_, in_use_);
    return true;
  }
  void Release(int64_t bytes) {
    absl::MutexLock lock(&mu_);
    in_use_ -= bytes;
  }

  int64_t limit() const { return limit_; }
  int64_t in_use() const {
    absl::MutexLock lock(&mu_);
    return in_use_;
  }
  int64_t peak() const {
    absl::MutexLock lock(&mu_);
    return peak_;
  }

 private:
  const int64_t limit_;
  mutable absl::Mutex mu_;
  int64_t in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t peak_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace medgemma::server
