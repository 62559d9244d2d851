// Expands command-line paths into image files (directories recursively, sorted).
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/image_preprocessor.h"

namespace medgemma::cli {

absl::StatusOr<std::vector<std::filesystem::path>> ExpandImagePaths(const std::vector<std::string>& paths);

}  // namespace medgemma::cli
