#include "engine/image_decoder.h"

#include <absl/strings/str_cat.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstring>

#include "base/status_macros.h"
#include "engine/cmyk_tiff.h"

namespace medgemma {
namespace {
absl::Status Invalid(const std::string& what) { return absl::InvalidArgumentError(what); }

uint32_t Be(std::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}
uint32_t Le(std::string_view b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

absl::StatusOr<ImageHeader> PngHeader(std::string_view b) {
  if (b.size() < 24 || b.substr(12, 4) != "IHDR") return Invalid("truncated PNG: no IHDR chunk");
  return ImageHeader{"PNG", Be(b, 16, 4), Be(b, 20, 4)};
}

absl::StatusOr<ImageHeader> JpegHeader(std::string_view b) {
  size_t pos = 2;
  while (pos + 4 <= b.size()) {
    if (static_cast<uint8_t>(b[pos]) != 0xFF) return Invalid("corrupt JPEG: marker expected");
    const uint8_t marker = static_cast<uint8_t>(b[pos + 1]);
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      pos += 2;
      continue;
    }
    const uint32_t length = Be(b, pos + 2, 2);
    const bool is_sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_sof) {
      if (pos + 9 > b.size()) break;
      return ImageHeader{"JPEG", Be(b, pos + 7, 2), Be(b, pos + 5, 2)};
    }
    if (marker == 0xDA || length < 2) break;
    pos += 2 + length;
  }
  return Invalid("truncated JPEG: no frame header (SOF) found");
}

absl::StatusOr<ImageHeader> BmpHeader(std::string_view b) {
  if (b.size() < 26) return Invalid("truncated BMP header");
  const int32_t width = static_cast<int32_t>(Le(b, 18, 4));
  const int32_t height = static_cast<int32_t>(Le(b, 22, 4));
  return ImageHeader{"BMP", std::abs(static_cast<int64_t>(width)), std::abs(static_cast<int64_t>(height))};
}

absl::StatusOr<ImageHeader> TiffHeader(std::string_view b) {
  const bool little = b[0] == 'I';
  auto read = [&](size_t at, int n) { return little ? Le(b, at, n) : Be(b, at, n); };
  if (b.size() < 8) return Invalid("truncated TIFF header");
  const uint32_t ifd = read(4, 4);
  if (ifd > b.size() || b.size() - ifd < 2) return Invalid("corrupt TIFF: first IFD outside the file");
  const uint32_t entries = read(ifd, 2);
  ImageHeader header{"TIFF", 0, 0};
  // The pixel limit is only as good as agreement with the decoder on the size: libtiff keeps the
  // first of repeated tags, so a file with two ImageWidth tags could pass as small and decode as
  // huge. TIFF requires tags in ascending order, so repeats (and any disorder) are refused.
  uint32_t previous_tag = 0;
  for (uint32_t i = 0; i < entries; ++i) {
    const size_t at = ifd + 2 + 12 * static_cast<size_t>(i);
    if (at + 12 > b.size()) return Invalid("corrupt TIFF: IFD runs past the end of the file");
    const uint32_t tag = read(at, 2), type = read(at + 2, 2), count = read(at + 4, 4);
    if (i > 0 && tag <= previous_tag) {
      return Invalid(absl::StrCat("corrupt TIFF: tag ", tag, " follows tag ", previous_tag,
                                  " (tags must be unique and ascending)"));
    }
    previous_tag = tag;
    if (tag == 262 && type == 3 && count == 1) header.cmyk = read(at + 8, 2) == 5;  // PhotometricInterpretation
    if (tag != 256 && tag != 257) continue;
    if (count != 1 || (type != 3 && type != 4)) {
      return Invalid(absl::StrCat("corrupt TIFF: image ", tag == 256 ? "width" : "length",
                                  " must be one SHORT or LONG value"));
    }
    (tag == 256 ? header.width : header.height) = type == 3 ? read(at + 8, 2) : read(at + 8, 4);
  }
  if (header.width == 0 || header.height == 0) return Invalid("corrupt TIFF: no ImageWidth/ImageLength");
  return header;
}

absl::Status CheckPixels(int64_t width, int64_t height, const ImageLimits& limits) {
  if (width <= 0 || height <= 0) return Invalid(absl::StrCat("image has empty size ", width, "x", height));
  if (width > limits.max_pixels || height > limits.max_pixels || width * height > limits.max_pixels) {
    // Sides come from 32-bit header fields: their product always fits uint64, not always int64.
    const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
    return absl::InvalidArgumentError(absl::StrCat("image is ", width, "x", height, " = ", pixels,
                                                   " pixels; the limit is ", limits.max_pixels));
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<ImageHeader> ReadImageHeader(std::string_view b) {
  if (b.empty()) return Invalid("image is empty (0 bytes)");
  if (b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0) return PngHeader(b);
  if (b.size() >= 3 && std::memcmp(b.data(), "\xFF\xD8\xFF", 3) == 0) return JpegHeader(b);
  if (b.size() >= 2 && b.substr(0, 2) == "BM") return BmpHeader(b);
  if (b.size() >= 4 && (b.substr(0, 4) == std::string_view("II*\0", 4) || b.substr(0, 4) == std::string_view("MM\0*", 4))) {
    return TiffHeader(b);
  }
  return Invalid("unsupported or undecodable image: not PNG, JPEG, TIFF or BMP");
}

absl::StatusOr<RgbImage> DecodeImage(std::string_view bytes, const ImageLimits& limits) {
  if (bytes.size() > limits.max_encoded_bytes) {
    return Invalid(absl::StrCat("encoded image is ", bytes.size(), " bytes; the limit is ", limits.max_encoded_bytes));
  }
  MG_ASSIGN_OR_RETURN(ImageHeader header, ReadImageHeader(bytes));
  MG_RETURN_IF_ERROR(CheckPixels(header.width, header.height, limits));
  if (header.cmyk) return DecodeCmykTiff(bytes, header.width, header.height);
  cv::Mat bgr;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    // HF's processor ignores EXIF orientation (PIL does not rotate on open); so do we.
    bgr = cv::imdecode(buffer, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
  } catch (const cv::Exception& e) {
    return Invalid(absl::StrCat("cannot decode ", header.format, " image: ", e.what()));
  }
  if (bgr.empty()) return Invalid(absl::StrCat("cannot decode ", header.format, " image (corrupt or truncated)"));
  if (bgr.cols != header.width || bgr.rows != header.height) {
    return Invalid(absl::StrCat(header.format, " decoded to ", bgr.cols, "x", bgr.rows, " but its header says ",
                                header.width, "x", header.height));
  }
  RgbImage image{bgr.cols, bgr.rows, std::vector<uint8_t>(static_cast<size_t>(bgr.cols) * bgr.rows * 3)};
  cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, image.pixels.data());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return image;
}

absl::StatusOr<RgbImage> RgbImageFromRaw(int64_t width, int64_t height, std::string_view rgb,
                                         const ImageLimits& limits) {
  MG_RETURN_IF_ERROR(CheckPixels(width, height, limits));
  const uint64_t expected = static_cast<uint64_t>(width) * static_cast<uint64_t>(height) * 3;
  if (rgb.size() != expected) {
    return Invalid(absl::StrCat("raw image of ", width, "x", height, " needs ", expected, " RGB bytes but has ",
                                rgb.size()));
  }
  return RgbImage{static_cast<int>(width), static_cast<int>(height), std::vector<uint8_t>(rgb.begin(), rgb.end())};
}

}  // namespace medgemma
