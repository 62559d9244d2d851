// DICOM Part 10 files as classifier input, decoded with DCMTK: one frame's pixels as 8-bit RGB and
// the instance's identity (Study/Series/SOP Instance UIDs, frame). Transfer syntaxes: implicit and
// explicit VR little endian, explicit VR big endian, deflated, RLE lossless, JPEG baseline and
// extended (processes 1, 2 and 4) and JPEG lossless (processes 14, SV1); photometric
// interpretations MONOCHROME1/2 (gray replicated to RGB, MONOCHROME1 inverted as displayed, more
// than 8 bits scaled by the image's min/max), RGB, YBR_FULL and YBR_FULL_422 (converted to RGB).
// Anything else, and files that do not parse or end early, is INVALID_ARGUMENT naming the
// transfer syntax or the problem.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <string_view>

#include "engine/image_decoder.h"

namespace medgemma::server {

struct DicomFrame {
  RgbImage image;
  std::string study_instance_uid, series_instance_uid, sop_instance_uid;
  int frame = 1;   // 1-based
  int frames = 1;  // in the file
};

struct DicomHeader {
  int64_t rows = 0, columns = 0;
  int frames = 1;
};

// `frame`: 1-based; 0 takes the first frame of a single-frame file and is INVALID_ARGUMENT for a
// multi-frame one (the caller names the frame, one request per frame).
absl::StatusOr<DicomFrame> DecodeDicom(std::string_view bytes, int frame, const ImageLimits& limits);
// Rows, columns and frames without decoding pixels (for the request's memory estimate).
absl::StatusOr<DicomHeader> ReadDicomHeader(std::string_view bytes);

}  // namespace medgemma::server
