#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <tiffio.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>

#include "base/file_util.h"
#include "engine/image_decoder.h"
#include "engine/image_preprocessor.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {

std::string Encode(const cv::Mat& bgr, const std::string& ext) {
  std::vector<uchar> out;
  EXPECT_TRUE(cv::imencode(ext, bgr, out));
  return std::string(out.begin(), out.end());
}

TEST(ImageDecoderTest, DecodesEveryFormatToRgbWithHeaderSizes) {
  cv::Mat bgr(23, 37, CV_8UC3, cv::Scalar(30, 200, 10));  // B, G, R
  for (const std::string ext : {".png", ".jpg", ".tiff", ".bmp"}) {
    const std::string bytes = Encode(bgr, ext);
    auto header = ReadImageHeader(bytes);
    ASSERT_TRUE(header.ok()) << ext << header.status();
    EXPECT_EQ(header->width, 37) << ext;
    EXPECT_EQ(header->height, 23) << ext;
    auto image = DecodeImage(bytes, ImageLimits{});
    ASSERT_TRUE(image.ok()) << ext << image.status();
    EXPECT_NEAR(image->pixels[0], 10, 3) << ext;  // R first
    EXPECT_NEAR(image->pixels[1], 200, 3) << ext;
    EXPECT_NEAR(image->pixels[2], 30, 3) << ext;
  }
}

TEST(ImageDecoderTest, BadInputGetsAClearInvalidArgument) {
  const std::string png = testing::RandomPng(40, 30, 1);
  std::string huge_header = png.substr(0, 33);
  const unsigned char big[8] = {0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60};  // 60000 x 60000
  std::memcpy(huge_header.data() + 16, big, 8);
  // 2^32 - 1 a side: the pixel count overflows int64 (found by tests/fuzz, image_decode).
  std::string widest_header = huge_header;
  std::memset(widest_header.data() + 16, 0xFF, 8);
  struct Case {
    std::string bytes;
    const char* expect;
  } cases[] = {
      {"", "empty"},
      {png.substr(0, png.size() / 2), "cannot decode PNG"},
      {png.substr(0, 20), "truncated PNG"},
      {std::string(500, '\x42'), "unsupported"},
      {huge_header, "3600000000 pixels"},
      {widest_header, "18446744065119617025 pixels"},
      {std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF", 10), "JPEG"},
  };
  for (const auto& c : cases) {
    auto image = DecodeImage(c.bytes, ImageLimits{});
    EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument) << c.expect;
    EXPECT_NE(std::string(image.status().message()).find(c.expect), std::string::npos) << image.status();
  }
  ImageLimits small;
  small.max_encoded_bytes = 100;
  EXPECT_NE(std::string(DecodeImage(png, small).status().message()).find("limit"), std::string::npos);
}

// A little-endian TIFF whose first IFD holds `entries` (tag, type, value), count 1 each, in order.
std::string TiffWithEntries(const std::vector<std::array<uint32_t, 3>>& entries) {
  std::string b("II*\0\x08\0\0\0", 8);
  auto put = [&](uint32_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put(static_cast<uint32_t>(entries.size()), 2);
  for (const auto& [tag, type, value] : entries) {
    put(tag, 2);
    put(type, 2);
    put(1, 4);
    put(value, 4);
  }
  put(0, 4);  // no next IFD
  b.append(64 * 64, '\x80');
  return b;
}

TEST(ImageDecoderTest, TiffWithRepeatedSizeTagsCannotSlipPastThePixelLimit) {
  // libtiff keeps the first ImageWidth/ImageLength; a check that read the last would see 64x64.
  const std::string repeated = TiffWithEntries({{256, 4, 16000}, {256, 3, 64}, {257, 4, 16000}, {257, 3, 64}});
  auto header = ReadImageHeader(repeated);
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(header.status().message().find("unique and ascending"), std::string::npos) << header.status();
  EXPECT_FALSE(DecodeImage(repeated, ImageLimits{}).ok());
  const std::string multi_valued = TiffWithEntries({{256, 4, 64}, {257, 4, 64}});
  std::string two_widths = multi_valued;
  two_widths[8 + 2 + 4] = 2;  // count of the ImageWidth entry
  EXPECT_FALSE(ReadImageHeader(two_widths).ok());
  const std::string huge = TiffWithEntries({{256, 4, 16000}, {257, 4, 16000}});
  auto decoded = DecodeImage(huge, ImageLimits{});
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("limit"), std::string::npos) << decoded.status();
}

// A 4x2 CMYK TIFF written by libtiff, each row these inks: white paper, full cyan, full black, a
// mix, in the layout asked for.
struct CmykLayout {
  bool planar = false;
  uint16_t compression = COMPRESSION_NONE;
  uint16_t bits = 8;
  uint16_t samples = 4;
  uint16_t extra_type = EXTRASAMPLE_UNSPECIFIED;  // of the samples past the fourth
  uint16_t inkset = INKSET_CMYK;
};
constexpr std::array<std::array<uint8_t, 4>, 4> kInks = {
    {{0, 0, 0, 0}, {255, 0, 0, 0}, {0, 0, 0, 255}, {200, 100, 50, 100}}};

std::string CmykTiff(const CmykLayout& layout) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "cmyk.tif").string();
  TIFF* tiff = TIFFOpen(path.c_str(), "w");
  EXPECT_NE(tiff, nullptr);
  const uint32_t width = kInks.size(), height = 2;
  TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, width);
  TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, height);
  TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, layout.bits);
  TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, layout.samples);
  TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_SEPARATED);
  TIFFSetField(tiff, TIFFTAG_INKSET, layout.inkset);
  TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, layout.planar ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
  TIFFSetField(tiff, TIFFTAG_COMPRESSION, layout.compression);
  TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, 1);
  if (layout.samples > 4) {
    const std::vector<uint16_t> extra(layout.samples - 4, layout.extra_type);
    TIFFSetField(tiff, TIFFTAG_EXTRASAMPLES, static_cast<uint16_t>(extra.size()), extra.data());
  }
  for (uint16_t plane = 0; plane < (layout.planar ? layout.samples : 1); ++plane) {
    for (uint32_t y = 0; y < height; ++y) {
      std::vector<uint8_t> row;
      const auto put = [&](uint8_t value) {
        if (layout.bits == 8) {
          row.push_back(value);
          return;
        }
        const uint16_t wide = value * 257;  // high byte `value`; libtiff writes from the host's order
        const auto* two = reinterpret_cast<const uint8_t*>(&wide);
        row.insert(row.end(), two, two + 2);
      };
      for (const auto& inks : kInks) {
        for (uint16_t s = 0; s < (layout.planar ? 1 : layout.samples); ++s) {
          const uint16_t sample = layout.planar ? plane : s;
          put(sample < 4 ? inks[sample] : 77);
        }
      }
      EXPECT_EQ(TIFFWriteScanline(tiff, row.data(), y, plane), 1);
    }
  }
  TIFFClose(tiff);
  return *ReadFileToString(path);
}

TEST(ImageDecoderTest, CmykTiffIsConvertedAsPillowConvertsIt) {
  // Image.fromarray(inks, "CMYK").convert("RGB") in Pillow 13; libtiff's RGBA interface (under
  // OpenCV) gives (33, 94, 124) for the mix.
  const std::array<std::array<uint8_t, 3>, 4> pillow = {{{255, 255, 255}, {0, 255, 255}, {0, 0, 0}, {33, 94, 125}}};
  CmykLayout planar, lzw, sixteen_bit, extra_samples;
  planar.planar = true;
  lzw.compression = COMPRESSION_LZW;
  sixteen_bit.bits = 16;
  extra_samples.samples = 5;
  for (const auto& [name, layout] : std::vector<std::pair<std::string, CmykLayout>>{
           {"interleaved", CmykLayout{}}, {"planar", planar}, {"lzw", lzw}, {"16-bit", sixteen_bit},
           {"unspecified extra sample", extra_samples}}) {
    const std::string bytes = CmykTiff(layout);
    auto header = ReadImageHeader(bytes);
    ASSERT_TRUE(header.ok()) << name << header.status();
    EXPECT_TRUE(header->cmyk) << name;
    auto image = DecodeImage(bytes, ImageLimits{});
    ASSERT_TRUE(image.ok()) << name << image.status();
    ASSERT_EQ(image->width, 4) << name;
    ASSERT_EQ(image->height, 2) << name;
    for (size_t i = 0; i < image->pixels.size(); ++i) {
      EXPECT_EQ(image->pixels[i], pillow[(i / 3) % 4][i % 3]) << name << " pixel " << i / 3 << " channel " << i % 3;
    }
  }
  ImageLimits small;
  small.max_pixels = 7;
  EXPECT_NE(DecodeImage(CmykTiff(CmykLayout{}), small).status().message().find("limit"), std::string::npos);
}

TEST(ImageDecoderTest, CmykTiffLayoutsPillowDoesNotReadAreRefusedByName) {
  CmykLayout alpha, other_inks;
  alpha.samples = 5;
  alpha.extra_type = EXTRASAMPLE_UNASSALPHA;
  other_inks.inkset = INKSET_MULTIINK;
  for (const auto& [layout, expect] : std::vector<std::pair<CmykLayout, std::string>>{
           {alpha, "are not supported"}, {other_inks, "is not CMYK"}}) {
    std::string bytes = CmykTiff(layout);
    auto image = DecodeImage(bytes, ImageLimits{});
    ASSERT_FALSE(image.ok()) << expect;
    EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(image.status().message().find(expect), std::string::npos) << image.status();
  }
  CmykLayout lzw;
  lzw.compression = COMPRESSION_LZW;
  std::string corrupt = CmykTiff(lzw);
  std::fill(corrupt.begin() + 8, corrupt.begin() + 24, '\xff');  // the first strip's LZW codes
  auto image = DecodeImage(corrupt, ImageLimits{});
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument) << image.status();
  EXPECT_NE(image.status().message().find("cannot read row"), std::string::npos) << image.status();
}

TEST(ImageDecoderTest, RawRgbNeedsExactlyWidthTimesHeightTimesThreeBytes) {
  EXPECT_TRUE(RgbImageFromRaw(4, 2, std::string(24, '\x01'), ImageLimits{}).ok());
  auto wrong = RgbImageFromRaw(4, 2, std::string(23, '\x01'), ImageLimits{});
  EXPECT_NE(std::string(wrong.status().message()).find("needs 24 RGB bytes but has 23"), std::string::npos);
  EXPECT_FALSE(RgbImageFromRaw(0, 2, "", ImageLimits{}).ok());
  EXPECT_FALSE(RgbImageFromRaw(-4, -2, std::string(24, 'x'), ImageLimits{}).ok());
}

TEST(ImagePreprocessorTest, KnownValuesForConstantAndIdentitySizedImages) {
  PreprocessConfig config;
  config.size = 8;
  RgbImage constant{5, 3, {}};
  for (int i = 0; i < 15; ++i) constant.pixels.insert(constant.pixels.end(), {10, 200, 255});
  auto x = PreprocessImage(constant, config);
  ASSERT_TRUE(x.ok());
  ASSERT_EQ(x->sizes(), (std::vector<int64_t>{3, 8, 8}));
  EXPECT_NEAR((*x)[0].min().item<float>(), (10 / 255.0 - 0.5) / 0.5, 1e-6);
  EXPECT_NEAR((*x)[0].max().item<float>(), (10 / 255.0 - 0.5) / 0.5, 1e-6);
  EXPECT_NEAR((*x)[1][3][4].item<float>(), (200 / 255.0 - 0.5) / 0.5, 1e-6);
  EXPECT_NEAR((*x)[2][7][7].item<float>(), 1.0, 1e-6);

  RgbImage same{8, 8, {}};
  for (int i = 0; i < 64; ++i) same.pixels.insert(same.pixels.end(), {uint8_t(i * 4), uint8_t(255 - i), 7});
  auto y = PreprocessImage(same, config);
  ASSERT_TRUE(y.ok());
  for (int i : {0, 9, 63}) {  // resizing to the same size is the identity
    EXPECT_NEAR((*y)[0][i / 8][i % 8].item<float>(), (i * 4 / 255.0 - 0.5) / 0.5, 1e-6) << i;
    EXPECT_NEAR((*y)[1][i / 8][i % 8].item<float>(), ((255 - i) / 255.0 - 0.5) / 0.5, 1e-6) << i;
  }
}

TEST(ImagePreprocessorTest, DownscaleAveragesLikeAntialiasedBilinear) {
  // A 2x-downscaled checkerboard of 0/255 averages to the middle value in every output pixel.
  RgbImage board{16, 16, {}};
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 16; ++x) {
      const uint8_t v = (x + y) % 2 ? 255 : 0;
      board.pixels.insert(board.pixels.end(), {v, v, v});
    }
  }
  PreprocessConfig config;
  config.size = 8;
  auto x = PreprocessImage(board, config);
  ASSERT_TRUE(x.ok());
  EXPECT_NEAR(x->slice(1, 1, 7).slice(2, 1, 7).abs().max().item<float>(), 0.0, 1.0 / 255 + 1e-6);
}

}  // namespace
}  // namespace medgemma
