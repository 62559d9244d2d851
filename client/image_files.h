// Expands command-line paths into image files (directories recursively, sorted).
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/image_preprocessor.h"

namespace medgemma::cli {

// `dicom`: directories contribute DICOM files (.dcm, .dicom) too, for the commands that send files
// to medgemma-server (which decodes DICOM); named files are always taken.
absl::StatusOr<std::vector<std::filesystem::path>> ExpandImagePaths(const std::vector<std::string>& paths,
                                                                    bool dicom = false);
// A DICOM Part 10 file: named .dcm/.dicom, or "DICM" after the 128-byte preamble.
bool IsDicomFile(const std::filesystem::path& path);

}  // namespace medgemma::cli
