// Turns untrusted image bytes into RGB pixels. The format's own header is read first and the
// byte and pixel limits enforced before any decoder runs, so a 60000x60000 PNG of a few KB is
// refused without allocating its pixels.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace medgemma {

struct ImageLimits {
  size_t max_encoded_bytes = 64u << 20;
  int64_t max_pixels = 100'000'000;
};

struct ImageHeader {
  const char* format;  // "PNG", "JPEG", "TIFF", "BMP"
  int64_t width = 0, height = 0;
  bool cmyk = false;  // a TIFF of ink separations (engine/cmyk_tiff.h decodes it)
};

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major RGB, 3 bytes a pixel
};

// Width and height from the container header; INVALID_ARGUMENT for unknown or broken headers.
absl::StatusOr<ImageHeader> ReadImageHeader(std::string_view bytes);
absl::StatusOr<RgbImage> DecodeImage(std::string_view bytes, const ImageLimits& limits);
absl::StatusOr<RgbImage> RgbImageFromRaw(int64_t width, int64_t height, std::string_view rgb,
                                         const ImageLimits& limits);

}  // namespace medgemma
