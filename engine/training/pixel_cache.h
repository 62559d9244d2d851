// Resized 8-bit pixels of training and evaluation images, kept in memory up to a byte budget so
// later epochs skip decoding; images past the budget are decoded on every use. Held as uint8
// (a quarter of float32's bytes: ~2.4 MB at 896x896) and normalized on the device, so the budget
// holds four times the images and the upload moves a quarter of the bytes. Safe to share between
// the prefetch worker and the evaluating thread; decoding runs outside the lock.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <vector>

#include "engine/image_preprocessor.h"
#include "engine/training/dataset.h"

namespace medgemma {

class PixelCache {
 public:
  PixelCache(PreprocessConfig config, int64_t budget_bytes) : config_(config), budget_bytes_(budget_bytes) {}

  // A quarter of the host memory this process may use (base/host_memory.h).
  static int64_t DefaultBudgetBytes();

  // (N, 3, S, S) uint8 on the host, in the images' order, in pinned memory when `device` is CUDA
  // so the upload is one asynchronous copy. NormalizePixels finishes them on the device.
  absl::StatusOr<torch::Tensor> Batch(const std::vector<LabeledImage>& images, const torch::Device& device);

  int64_t cached_bytes() const;
  const PreprocessConfig& config() const { return config_; }

 private:
  absl::StatusOr<torch::Tensor> One(const std::filesystem::path& path);
  const PreprocessConfig config_;
  const int64_t budget_bytes_;
  mutable absl::Mutex mu_;
  int64_t used_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::filesystem::path, torch::Tensor> cached_ ABSL_GUARDED_BY(mu_);
};

}  // namespace medgemma
