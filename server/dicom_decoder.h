// DICOM Part 10 files as classifier input, decoded with DCMTK: one frame's pixels as 8-bit RGB and
// the instance's identity (Study/Series/SOP Instance UIDs, frame). Transfer syntaxes: implicit and
// explicit VR little endian, explicit VR big endian, deflated, RLE lossless, JPEG baseline and
// extended (processes 1, 2 and 4) and JPEG lossless (processes 14, SV1); photometric
// interpretations MONOCHROME1/2 (gray replicated to RGB, MONOCHROME1 inverted as displayed, more
// than 8 bits scaled by the image's min/max), RGB, YBR_FULL and YBR_FULL_422 (converted to RGB).
// Anything else, and files that do not parse or end early, is INVALID_ARGUMENT naming the
// transfer syntax or the problem.
//
// Memory: a file is parsed once (about its own size again: DCMTK copies the values) and each frame
// is decompressed on its own (DCMTK's partial pixel access), so a whole-slide file of a thousand
// JPEG tiles never holds more than one tile decoded. A deflated file is inflated here with a cap of
// limits.max_encoded_bytes (what an uncompressed file may be), never by DCMTK without one.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>

#include <memory>
#include <string>
#include <string_view>

#include "engine/image_decoder.h"

class DcmFileFormat;

namespace medgemma::server {

struct DicomFrame {
  RgbImage image;
  std::string study_instance_uid, series_instance_uid, sop_instance_uid;
  int frame = 1;   // 1-based
  int frames = 1;  // in the file
};

// A parsed file whose frames decode one at a time, from any thread (one after another: DCMTK's
// objects are not safe to share).
class MemoryFile;

class DicomFile {
 public:
  static absl::StatusOr<std::unique_ptr<DicomFile>> Parse(std::string_view bytes, const ImageLimits& limits);
  ~DicomFile();

  int frames() const { return frames_; }
  const std::string& study_instance_uid() const { return study_; }
  const std::string& series_instance_uid() const { return series_; }
  const std::string& sop_instance_uid() const { return sop_; }
  // What decoding one frame holds at its peak besides the parsed file: the decompressed frame,
  // DCMTK's intermediate and 8-bit output, and the RGB copy.
  int64_t FrameBytes() const;
  // `frame`: 1-based.
  absl::StatusOr<DicomFrame> Frame(int frame) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  DicomFile() = default;

  absl::Mutex mu_;
  std::unique_ptr<MemoryFile> memory_;  // what file_'s values not yet loaded are read from
  std::unique_ptr<DcmFileFormat> file_ ABSL_GUARDED_BY(mu_);
  int xfer_ = 0;  // E_TransferSyntax the dataset's pixel data is held in
  int64_t rows_ = 0, columns_ = 0, samples_ = 1, bytes_per_sample_ = 1;
  int frames_ = 1;
  std::string study_, series_, sop_;
};

// The 1-based frame a request names: `frame`, or 0 for the only frame of a single-frame file;
// 0 on a multi-frame file is INVALID_ARGUMENT naming the frame count (the streaming and HTTP calls
// classify every frame of it instead).
absl::StatusOr<int> FrameToDecode(const DicomFile& file, int frame);
// Parse, then Frame(FrameToDecode(frame)).
absl::StatusOr<DicomFrame> DecodeDicom(std::string_view bytes, int frame, const ImageLimits& limits);

}  // namespace medgemma::server
