#include "engine/cmyk_tiff.h"

#include <absl/strings/str_cat.h>
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status_macros.h"

namespace medgemma {
namespace {

absl::Status Invalid(const std::string& what) { return absl::InvalidArgumentError(absl::StrCat("CMYK TIFF: ", what)); }

// libtiff reads the encoded bytes through these; nothing is written and nothing is mapped.
struct MemoryFile {
  std::string_view bytes;
  uint64_t position = 0;
  std::string error;  // libtiff's last error message
};

tmsize_t Read(thandle_t handle, void* out, tmsize_t size) {
  auto* file = static_cast<MemoryFile*>(handle);
  if (size < 0 || file->position >= file->bytes.size()) return 0;
  const uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(size), file->bytes.size() - file->position);
  std::memcpy(out, file->bytes.data() + file->position, n);
  file->position += n;
  return static_cast<tmsize_t>(n);
}
tmsize_t Write(thandle_t, void*, tmsize_t) { return -1; }
toff_t Seek(thandle_t handle, toff_t offset, int whence) {
  auto* file = static_cast<MemoryFile*>(handle);
  const uint64_t base = whence == SEEK_CUR ? file->position : whence == SEEK_END ? file->bytes.size() : 0;
  file->position = base + offset;
  return file->position;
}
int Close(thandle_t) { return 0; }
toff_t Size(thandle_t handle) { return static_cast<MemoryFile*>(handle)->bytes.size(); }
int Map(thandle_t, void**, toff_t*) { return 0; }
void Unmap(thandle_t, void*, toff_t) {}

int KeepError(TIFF*, void* user_data, const char* module, const char* format, va_list args) {
  char message[512];
  std::vsnprintf(message, sizeof(message), format, args);
  static_cast<MemoryFile*>(user_data)->error = absl::StrCat(module != nullptr ? module : "libtiff", ": ", message);
  return 1;  // handled: nothing reaches stderr, whose lines are the service's JSON log
}
int DropWarning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

struct TiffCloser {
  void operator()(TIFF* tiff) const { TIFFClose(tiff); }
};
using TiffHandle = std::unique_ptr<TIFF, TiffCloser>;

// The layout of the samples, refused unless it is one Pillow reads as CMYK.
struct Layout {
  uint16_t bits = 0, samples = 0;
  bool planar = false;  // one plane per sample instead of interleaved
};

absl::StatusOr<Layout> ReadLayout(TIFF* tiff, int64_t width, int64_t height) {
  uint32_t tiff_width = 0, tiff_height = 0;
  uint16_t photometric = 0, inkset = 0, format = 0, planar = 0, extra_count = 0;
  uint16_t* extra = nullptr;
  Layout layout;
  TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &tiff_width);
  TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &tiff_height);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_PHOTOMETRIC, &photometric);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_INKSET, &inkset);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_BITSPERSAMPLE, &layout.bits);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLESPERPIXEL, &layout.samples);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_EXTRASAMPLES, &extra_count, &extra);
  if (tiff_width != width || tiff_height != height) {
    return Invalid(absl::StrCat("libtiff reads ", tiff_width, "x", tiff_height, " but the header says ", width, "x",
                                height));
  }
  if (photometric != PHOTOMETRIC_SEPARATED) return Invalid("libtiff does not read it as ink separations");
  if (inkset != INKSET_CMYK) return Invalid(absl::StrCat("ink set ", inkset, " is not CMYK"));
  if (format != SAMPLEFORMAT_UINT) return Invalid("samples are not unsigned integers");
  if (TIFFIsTiled(tiff)) return Invalid("tiled images are not supported (strips are)");
  const bool unspecified_extras =
      extra_count == layout.samples - 4 &&
      std::all_of(extra, extra + extra_count, [](uint16_t type) { return type == EXTRASAMPLE_UNSPECIFIED; });
  const bool pillow_reads = (layout.bits == 8 && layout.samples >= 4 && layout.samples <= 6 && unspecified_extras) ||
                            (layout.bits == 16 && layout.samples == 4);
  if (!pillow_reads) {
    return Invalid(absl::StrCat(layout.bits, "-bit samples, ", layout.samples, " per pixel (", extra_count,
                                " extra) are not supported; Pillow reads 8-bit C, M, Y, K (+ unspecified",
                                " extras) or 16-bit C, M, Y, K"));
  }
  layout.planar = planar == PLANARCONFIG_SEPARATE;
  return layout;
}

// All rows of each plane in turn (every plane of an interleaved image is plane 0), into `cmyk`:
// width x height x 4 inks, 8 bits each.
absl::Status ReadInks(TIFF* tiff, const Layout& layout, MemoryFile& file, uint32_t width, uint32_t height,
                      std::vector<uint8_t>& cmyk) {
  const uint64_t bytes_per_sample = layout.bits / 8;
  const uint64_t samples_per_row_pixel = layout.planar ? 1 : layout.samples;
  const uint64_t row_bytes = uint64_t{width} * samples_per_row_pixel * bytes_per_sample;
  if (TIFFScanlineSize64(tiff) != row_bytes) return Invalid("scanline size does not match its width and samples");
  std::vector<uint8_t> row(row_bytes);
  for (uint16_t plane = 0; plane < (layout.planar ? 4 : 1); ++plane) {
    for (uint32_t y = 0; y < height; ++y) {
      if (TIFFReadScanline(tiff, row.data(), y, plane) < 0) {
        return Invalid(absl::StrCat("cannot read row ", y, ": ", file.error));
      }
      for (uint32_t x = 0; x < width; ++x) {
        for (uint16_t ink = 0; ink < (layout.planar ? 1 : 4); ++ink) {
          const uint64_t at = (uint64_t{x} * samples_per_row_pixel + ink) * bytes_per_sample;
          uint8_t value = row[at];
          if (layout.bits == 16) {  // host byte order from libtiff; Pillow keeps the high byte
            uint16_t wide;
            std::memcpy(&wide, &row[at], 2);
            value = static_cast<uint8_t>(wide >> 8);
          }
          cmyk[(uint64_t{y} * width + x) * 4 + plane + ink] = value;
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RgbImage> DecodeCmykTiff(std::string_view bytes, int64_t width, int64_t height) {
  MemoryFile file{bytes};
  std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> options(TIFFOpenOptionsAlloc(), TIFFOpenOptionsFree);
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), KeepError, &file);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), DropWarning, nullptr);
  // Nothing libtiff needs for an image within the pixel limit is larger than the encoded bytes or
  // one decoded plane set; a lying strip table cannot make it allocate more.
  const uint64_t largest = std::max<uint64_t>(bytes.size(), uint64_t(width) * height * 8) + (1u << 20);
  TIFFOpenOptionsSetMaxSingleMemAlloc(options.get(), static_cast<tmsize_t>(largest));
  // "m": read through Read(), never a mapping.
  TiffHandle tiff(TIFFClientOpenExt("image", "rm", &file, Read, Write, Seek, Close, Size, Map, Unmap, options.get()));
  if (!tiff) return Invalid(absl::StrCat("libtiff cannot open it: ", file.error));
  MG_ASSIGN_OR_RETURN(const Layout layout, ReadLayout(tiff.get(), width, height));
  const size_t pixels = static_cast<size_t>(width * height);
  std::vector<uint8_t> buffer(pixels * 4);
  MG_RETURN_IF_ERROR(ReadInks(tiff.get(), layout, file, width, height, buffer));
  // In place: pixel i's RGB lands on bytes 3i..3i+2, which its own inks or earlier pixels' held.
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t c = buffer[i * 4], m = buffer[i * 4 + 1], y = buffer[i * 4 + 2], k = buffer[i * 4 + 3];
    buffer[i * 3] = CmykToRgbChannel(c, k);
    buffer[i * 3 + 1] = CmykToRgbChannel(m, k);
    buffer[i * 3 + 2] = CmykToRgbChannel(y, k);
  }
  buffer.resize(pixels * 3);
  return RgbImage{static_cast<int>(width), static_cast<int>(height), std::move(buffer)};
}

}  // namespace medgemma
