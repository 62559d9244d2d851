// Preprocessed pixels of training and evaluation images, kept in memory up to a byte budget so
// later epochs skip decoding; images past the budget are decoded on every use.
#pragma once

#include <absl/status/statusor.h>
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

  // (N, C, S, S) float32 on the CPU, in the images' order.
  absl::StatusOr<torch::Tensor> Batch(const std::vector<LabeledImage>& images);

 private:
  absl::StatusOr<torch::Tensor> One(const std::filesystem::path& path);
  PreprocessConfig config_;
  int64_t budget_bytes_;
  int64_t used_bytes_ = 0;
  std::map<std::filesystem::path, torch::Tensor> cached_;
};

}  // namespace medgemma
