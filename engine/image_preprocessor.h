// Gemma3ImageProcessor's pixel pipeline: resize to the tower's square size with antialiased
// bilinear interpolation (PIL's BILINEAR), round to 8-bit values, rescale, normalize, CHW.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <array>
#include <filesystem>

#include "engine/image_decoder.h"
#include "engine/model_config.h"

namespace medgemma {

struct PreprocessConfig {
  int64_t size = 896;
  double rescale_factor = 1.0 / 255.0;
  std::array<double, 3> mean{0.5, 0.5, 0.5};
  std::array<double, 3> std{0.5, 0.5, 0.5};
};

// From preprocessor_config.json or processor_config.json ("image_processor") when present, else
// the vision tower's image size with Gemma's defaults.
absl::StatusOr<PreprocessConfig> LoadPreprocessConfig(const std::filesystem::path& model_dir,
                                                      const VisionConfig& vision);

// (3, size, size) float32 on the CPU: NormalizePixels(ResizeImage(image)).
absl::StatusOr<torch::Tensor> PreprocessImage(const RgbImage& image, const PreprocessConfig& config);
// The CPU half, (3, size, size) uint8: a quarter of float32's bytes to hold, stage and upload.
absl::StatusOr<torch::Tensor> ResizeImage(const RgbImage& image, const PreprocessConfig& config);
// The rest, on whatever device `resized` (uint8, (..., 3, S, S)) is on: rescale and normalize in
// float32. Throws c10::Error.
torch::Tensor NormalizePixels(const torch::Tensor& resized, const PreprocessConfig& config);
// Host `resized` (pinned for a truly asynchronous copy) uploaded to `device` without waiting for
// its queue, then normalized there. Throws c10::Error.
torch::Tensor UploadAndNormalizePixels(const torch::Tensor& resized, const torch::Device& device,
                                       const PreprocessConfig& config);
// Reads, decodes (default limits) and resizes one image file.
absl::StatusOr<torch::Tensor> ResizeImageFile(const std::filesystem::path& path, const PreprocessConfig& config);
// ResizeImageFile, then NormalizePixels: (3, size, size) float32 on the CPU.
absl::StatusOr<torch::Tensor> PreprocessImageFile(const std::filesystem::path& path, const PreprocessConfig& config);

}  // namespace medgemma
