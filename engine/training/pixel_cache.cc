#include "engine/training/pixel_cache.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include "base/host_memory.h"
#include "engine/host_staging.h"
#include "engine/torch_guard.h"

namespace medgemma {

int64_t PixelCache::DefaultBudgetBytes() { return HostMemoryLimitBytes() / 4; }

absl::StatusOr<torch::Tensor> PixelCache::One(const std::filesystem::path& path) {
  {
    absl::MutexLock lock(&mu_);
    if (auto it = cached_.find(path); it != cached_.end()) return it->second;
  }
  absl::StatusOr<torch::Tensor> resized = ResizeImageFile(path, config_);
  if (!resized.ok()) {
    return absl::Status(resized.status().code(), absl::StrCat(path.string(), ": ", resized.status().message()));
  }
  const torch::Tensor& pixels = *resized;
  const int64_t size = pixels.numel() * static_cast<int64_t>(pixels.element_size());
  absl::MutexLock lock(&mu_);
  if (used_bytes_ + size <= budget_bytes_ && cached_.emplace(path, pixels).second) used_bytes_ += size;
  return pixels;
}

absl::StatusOr<torch::Tensor> PixelCache::Batch(const std::vector<LabeledImage>& images, const torch::Device& device) {
  std::vector<torch::Tensor> rows;
  for (const auto& image : images) {
    MG_ASSIGN_OR_RETURN(torch::Tensor t, One(image.path));
    rows.push_back(t);
  }
  return GuardTorch("stack pixels", [&]() -> absl::StatusOr<torch::Tensor> { return StackForUpload(rows, device); });
}

int64_t PixelCache::cached_bytes() const {
  absl::MutexLock lock(&mu_);
  return used_bytes_;
}

}  // namespace medgemma
