// Expands command-line paths into image files (directories recursively, sorted) and decodes them.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/image_preprocessor.h"

namespace medgemma::cli {

absl::StatusOr<std::vector<std::filesystem::path>> ExpandImagePaths(const std::vector<std::string>& paths);
absl::StatusOr<torch::Tensor> LoadPixelValues(const std::filesystem::path& path, const PreprocessConfig& config);

}  // namespace medgemma::cli
