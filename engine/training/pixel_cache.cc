#include "engine/training/pixel_cache.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include "engine/torch_guard.h"

namespace medgemma {

absl::StatusOr<torch::Tensor> PixelCache::One(const std::filesystem::path& path) {
  if (auto it = cached_.find(path); it != cached_.end()) return it->second;
  auto pixels = PreprocessImageFile(path, config_);
  if (!pixels.ok()) return absl::Status(pixels.status().code(), absl::StrCat(path.string(), ": ", pixels.status().message()));
  const int64_t bytes = pixels->numel() * static_cast<int64_t>(pixels->element_size());
  if (used_bytes_ + bytes <= budget_bytes_) {
    used_bytes_ += bytes;
    cached_.emplace(path, *pixels);
  }
  return pixels;
}

absl::StatusOr<torch::Tensor> PixelCache::Batch(const std::vector<LabeledImage>& images) {
  std::vector<torch::Tensor> rows;
  for (const auto& image : images) {
    MG_ASSIGN_OR_RETURN(torch::Tensor t, One(image.path));
    rows.push_back(t);
  }
  return GuardTorch("stack pixels", [&]() -> absl::StatusOr<torch::Tensor> { return torch::stack(rows); });
}

}  // namespace medgemma
