// CMYK TIFFs (PhotometricInterpretation 5, ink set CMYK) decoded to RGB as Pillow converts them,
// which is what HF's image processor sees. OpenCV goes through libtiff's RGBA interface, which
// truncates where Pillow rounds (up to one step darker in every channel); so these files are read
// with libtiff's raw samples here instead.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <string_view>

#include "engine/image_decoder.h"

namespace medgemma {

// `bytes` is a TIFF whose first image ReadImageHeader found to be `width` x `height` and separated,
// the size already checked against the pixel limit. Pillow's layouts: 8-bit C, M, Y, K (plus up to
// two unspecified extra samples, ignored) or 16-bit C, M, Y, K (the high byte kept), in strips,
// interleaved or one plane per ink. Anything else, or a file libtiff cannot read, is INVALID_ARGUMENT.
absl::StatusOr<RgbImage> DecodeCmykTiff(std::string_view bytes, int64_t width, int64_t height);

// Pillow's cmyk2rgb (libImaging/Convert.c): ink scaled by the inverse of black, rounded.
inline uint8_t CmykToRgbChannel(uint8_t ink, uint8_t black) {
  const int inverse_black = 255 - black;
  const int scaled = ink * inverse_black + 128;
  return static_cast<uint8_t>(inverse_black - (((scaled >> 8) + scaled) >> 8));
}

}  // namespace medgemma
