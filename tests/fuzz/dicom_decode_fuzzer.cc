// Untrusted DICOM files through the server's decoder (server/dicom_decoder.h): meta walk, capped
// inflate of deflated datasets, DCMTK's header and full parse, the frame count against the pixel
// data, one frame decoded with partial access. Every failure is INVALID_ARGUMENT; a decoded frame
// has the size its header promised, within the limits. Seeds: small files in every supported
// syntax, made with DCMTK's tools (dcmconv, dcmcrle, dcmcjpeg).
#include "server/dicom_decoder.h"
#include "tests/fuzz/fuzz_target.h"

namespace {
// Small limits: the same checks at fuzzing speed, no input allocating gigabytes.
constexpr medgemma::ImageLimits kLimits{1u << 20, 1 << 20};
}  // namespace

MEDGEMMA_FUZZ_TARGET(dicom_decode) {
  auto file = medgemma::server::DicomFile::Parse(data, kLimits);
  if (!file.ok()) {
    MEDGEMMA_FUZZ_CHECK(file.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const int frames = (*file)->frames();
  MEDGEMMA_FUZZ_CHECK(frames >= 1);
  for (int k : {1, frames}) {
    auto frame = (*file)->Frame(k);
    if (!frame.ok()) {
      MEDGEMMA_FUZZ_CHECK(frame.status().code() == absl::StatusCode::kInvalidArgument);
      continue;
    }
    MEDGEMMA_FUZZ_CHECK(frame->frame == k && frame->frames == frames);
    MEDGEMMA_FUZZ_CHECK(frame->image.width > 0 && frame->image.height > 0);
    MEDGEMMA_FUZZ_CHECK(int64_t{frame->image.width} * frame->image.height <= kLimits.max_pixels);
    MEDGEMMA_FUZZ_CHECK(frame->image.pixels.size() == size_t(frame->image.width) * frame->image.height * 3);
  }
}
