// Untrusted image bytes through what the server does with them: container header, pixel limit,
// decode (OpenCV, or libtiff for CMYK TIFFs), then the tiny model's resize + normalize. Every
// format DecodeImage accepts is reached from here; a DICOM decoder behind DecodeImage is covered
// too, with its seeds added to corpus/image_decode.
#include <torch/torch.h>

#include "engine/image_decoder.h"
#include "engine/image_preprocessor.h"
#include "tests/fuzz/fuzz_target.h"

namespace {
// The production defaults (64 MB, 100 Mpx) would let one input allocate gigabytes and cost
// seconds; smaller limits exercise the same checks at fuzzing speed.
constexpr medgemma::ImageLimits kLimits{1u << 20, 1 << 22};

void CheckDecoded(const medgemma::RgbImage& image, std::string_view bytes) {
  MEDGEMMA_FUZZ_CHECK(image.width > 0 && image.height > 0);
  MEDGEMMA_FUZZ_CHECK(static_cast<int64_t>(image.width) * image.height <= kLimits.max_pixels);
  MEDGEMMA_FUZZ_CHECK(image.pixels.size() == static_cast<size_t>(image.width) * image.height * 3);
  // What the in-flight byte budget charges a request is the header's size: it must be the decoded size.
  auto header = medgemma::ReadImageHeader(bytes);
  MEDGEMMA_FUZZ_CHECK(header.ok() && header->width == image.width && header->height == image.height);
}
}  // namespace

MEDGEMMA_FUZZ_TARGET(image_decode) {
  auto image = medgemma::DecodeImage(data, kLimits);
  if (!image.ok()) {
    MEDGEMMA_FUZZ_CHECK(image.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  CheckDecoded(*image, data);
  medgemma::PreprocessConfig config;
  config.size = 64;  // the tiny model's tower
  auto pixels = medgemma::PreprocessImage(*image, config);
  MEDGEMMA_FUZZ_CHECK(pixels.ok());
  MEDGEMMA_FUZZ_CHECK(pixels->sizes() == torch::IntArrayRef({3, 64, 64}));
  MEDGEMMA_FUZZ_CHECK(pixels->isfinite().all().item<bool>());
}

