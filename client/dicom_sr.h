// `medgemma-cli classify --server X --dicom-sr DIR`: a DICOM Structured Report (Comprehensive SR,
// DCMTK's dcmsr) per classified DICOM instance, in a new series of the source's study, with the
// source's patient. Its content tree:
//   CONTAINER "Histopathology image classification"
//     CONTAINER "Classified frame"              one per frame that was classified
//       IMAGE "Source image"                    the source SOP instance (and its frame, multi-frame)
//       TEXT  "Label"                           label_name
//       NUM   "Confidence"                      {no units}
//       NUM   "Probability of <label>"          one per class
//       TEXT  "Model" / "Adapter version"       model_id; adapter name and version ("" base)
// The codes are private (coding scheme 99MEDGEMMA). The source is in the current requested
// procedure evidence. Frames that failed are not reported (the CLI prints their errors).
#pragma once

#include <absl/status/statusor.h>

#include <filesystem>
#include <vector>

#include "medgemma/v1/classifier.pb.h"

namespace medgemma::cli {

// Writes DIR/<source stem>.sr.dcm; returns its path.
absl::StatusOr<std::filesystem::path> WriteClassificationSr(const std::filesystem::path& source,
                                                           const std::vector<v1::ClassifyResponse>& frames,
                                                           const std::filesystem::path& dir);

}  // namespace medgemma::cli
