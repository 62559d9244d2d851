#include "server/dicom_decoder.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/diregist.h>  // color images in DicomImage
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/oflog/oflog.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

#include "base/status_macros.h"

namespace medgemma::server {

// The bytes as an anonymous in-memory file. DCMTK allocates a value by its declared length before
// reading it, except where it can defer the read, which takes a stream it can reopen: from a file
// it skips every value over DCM_MaxReadLength instead, and a skip past the end fails the parse
// before anything is allocated (from a memory buffer, a 300-byte file made it allocate 4 GB). The
// deferred values are read from the file when used, so it lives as long as what was read from it.
class MemoryFile {
 public:
  static absl::StatusOr<std::unique_ptr<MemoryFile>> Create(std::string_view bytes) {
    const int fd = memfd_create("medgemma-dicom", MFD_CLOEXEC);
    if (fd < 0) return absl::InternalError(absl::StrCat("memfd_create: ", std::strerror(errno)));
    auto file = std::unique_ptr<MemoryFile>(new MemoryFile(fd));
    for (size_t done = 0; done < bytes.size();) {
      const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return absl::InternalError(absl::StrCat("writing the DICOM file to memory: ", std::strerror(errno)));
      done += static_cast<size_t>(n);
    }
    return file;
  }
  ~MemoryFile() { close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::string path() const { return absl::StrCat("/proc/self/fd/", fd_); }

 private:
  explicit MemoryFile(int fd) : fd_(fd) {}
  int fd_;
};

namespace {
constexpr std::string_view kDeflatedUid = "1.2.840.10008.1.2.1.99";

bool Supported(E_TransferSyntax xfer) {
  switch (xfer) {
    case EXS_LittleEndianImplicit:
    case EXS_LittleEndianExplicit:
    case EXS_BigEndianExplicit:
    case EXS_DeflatedLittleEndianExplicit:
    case EXS_RLELossless:
    case EXS_JPEGProcess1:
    case EXS_JPEGProcess2_4:
    case EXS_JPEGProcess14:
    case EXS_JPEGProcess14SV1:
      return true;
    default:
      return false;
  }
}

std::string XferName(E_TransferSyntax xfer) {
  const DcmXfer named(xfer);
  return absl::StrCat(named.getXferName(), " (", named.getXferID(), ")");
}

void InitDcmtk() {
  static std::once_flag once;
  std::call_once(once, [] {
    DJDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
    // DCMTK's own log lines are not the server's JSON; every problem comes back as a status.
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
  });
}

uint32_t Le16(std::string_view b, size_t at) { return uint8_t(b[at]) | uint8_t(b[at + 1]) << 8; }
uint32_t Le32(std::string_view b, size_t at) { return Le16(b, at) | Le16(b, at + 2) << 16; }

// The File Meta Information (group 0002, always explicit VR little endian) after the preamble:
// where the dataset starts and its transfer syntax UID. Empty UID when the file has no preamble or
// its meta does not walk (DCMTK then reads it, and is told apart below).
struct Meta {
  size_t dataset_at = 0;
  std::string transfer_syntax;
  bool part10 = false;  // the file has a meta group (after the preamble and "DICM", or at its start)
  // A meta element whose declared length runs past the file: refused here, because DCMTK
  // allocates an element's declared length before it reads (a 300-byte file asked for 2.4 GB).
  std::optional<uint64_t> overrunning_length;
};

Meta ReadMeta(std::string_view b) {
  Meta meta;
  // DCMTK also reads a meta group that starts the file without the preamble.
  const bool preamble = b.size() >= 132 && b.substr(128, 4) == "DICM";
  if (!preamble && (b.size() < 8 || Le16(b, 0) != 0x0002)) return meta;
  meta.part10 = true;
  size_t at = preamble ? 132 : 0;
  while (at + 8 <= b.size() && Le16(b, at) == 0x0002) {
    const uint32_t element = Le16(b, at + 2);
    const std::string_view vr = b.substr(at + 4, 2);
    const bool long_form = vr == "OB" || vr == "OW" || vr == "OF" || vr == "SQ" || vr == "UT" || vr == "UN";
    if (long_form && at + 12 > b.size()) return Meta{0, "", true, std::nullopt};
    const uint64_t length = long_form ? Le32(b, at + 8) : Le16(b, at + 6);
    const size_t value_at = at + (long_form ? 12 : 8);
    if (value_at + length > b.size()) return Meta{0, "", true, length};
    // The first (0002,0010) counts, as in DCMTK, which ignores a repeated element: reading another
    // one than DCMTK does let it inflate a dataset we took for plain, through a stream it cannot skip in.
    if (element == 0x0010 && meta.transfer_syntax.empty()) {
      meta.transfer_syntax = std::string(b.substr(value_at, length));
      while (!meta.transfer_syntax.empty() && (meta.transfer_syntax.back() == '\0' || meta.transfer_syntax.back() == ' ')) {
        meta.transfer_syntax.pop_back();
      }
    }
    at = value_at + length;
  }
  meta.dataset_at = at;
  return meta;
}

// Raw deflate (PS3.5 A.5), refused once it passes `cap` bytes: a few KB of zeros must not become GBs.
absl::StatusOr<std::string> Inflate(std::string_view deflated, int64_t cap) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return absl::InternalError("zlib does not initialize");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(deflated.data()));
  z.avail_in = static_cast<uInt>(std::min<size_t>(deflated.size(), UINT32_MAX));
  std::string out;
  char chunk[64 << 10];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof(chunk);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(chunk, sizeof(chunk) - z.avail_out);
    if (static_cast<int64_t>(out.size()) > cap) {
      inflateEnd(&z);
      return absl::InvalidArgumentError(absl::StrCat("the deflated DICOM dataset inflates past ", cap,
                                                     " bytes (the limit for a DICOM file)"));
    }
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return absl::InvalidArgumentError("the deflated DICOM dataset does not inflate: truncated or corrupt");
  return out;
}

std::string Text(DcmDataset* dataset, const DcmTagKey& tag) {
  OFString value;
  dataset->findAndGetOFString(tag, value);
  return std::string(value.c_str());
}

// UIDs are echoed into responses and audit lines: PS3.5 9.1 form only.
absl::Status CheckUid(const char* what, const std::string& uid) {
  if (uid.size() > 64 || uid.find_first_not_of("0123456789.") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM ", what, " is not a UID (at most 64 digits and dots)"));
  }
  return absl::OkStatus();
}

struct Geometry {
  int64_t rows = 0, columns = 0, samples = 1, bytes_per_sample = 1;
  int frames = 1;
};

// What the dataset's header promises, checked before its pixel data is read.
absl::StatusOr<Geometry> CheckHeader(DcmDataset* dataset, E_TransferSyntax xfer, const ImageLimits& limits) {
  if (!Supported(xfer)) return absl::InvalidArgumentError(absl::StrCat("unsupported DICOM transfer syntax ", XferName(xfer)));
  Uint16 rows = 0, columns = 0, samples = 1, bits = 8;
  if (dataset->findAndGetUint16(DCM_Rows, rows).bad() || dataset->findAndGetUint16(DCM_Columns, columns).bad()) {
    return absl::InvalidArgumentError("the DICOM file has no Rows/Columns: not an image");
  }
  dataset->findAndGetUint16(DCM_SamplesPerPixel, samples);
  dataset->findAndGetUint16(DCM_BitsAllocated, bits);
  Sint32 frames = 1;
  if (dataset->findAndGetSint32(DCM_NumberOfFrames, frames).bad()) frames = 1;  // absent: one frame
  if (rows == 0 || columns == 0 || frames < 1) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM image is ", columns, "x", rows, " with ", frames, " frames"));
  }
  if (int64_t{rows} * columns > limits.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM image is ", columns, "x", rows, "; the limit is ",
                                                   limits.max_pixels, " pixels"));
  }
  const std::string photometric = absl::AsciiStrToUpper(Text(dataset, DCM_PhotometricInterpretation));
  const bool mono = photometric == "MONOCHROME1" || photometric == "MONOCHROME2";
  const bool color = photometric == "RGB" || photometric == "YBR_FULL" || photometric == "YBR_FULL_422";
  if (!mono && !color) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported DICOM photometric interpretation \"", photometric,
                                                   "\" (MONOCHROME1/2, RGB, YBR_FULL or YBR_FULL_422)"));
  }
  if (samples != (mono ? 1 : 3)) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM image is ", photometric, " with ", samples, " samples per pixel"));
  }
  if (bits != 8 && bits != 16) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM image has ", bits, " bits allocated; 8 or 16 are supported"));
  }
  return Geometry{rows, columns, samples, bits / 8, static_cast<int>(frames)};
}

// NumberOfFrames against the pixel data actually there, so that a small file cannot claim
// millions of frames (each would be a response): uncompressed, every frame's bytes; encapsulated,
// at least one fragment per frame.
absl::Status CheckPixelData(DcmDataset* dataset, E_TransferSyntax xfer, const Geometry& g) {
  DcmElement* element = nullptr;
  if (dataset->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
    return absl::InvalidArgumentError("the DICOM file has no PixelData");
  }
  auto* pixels = static_cast<DcmPixelData*>(element);
  if (DcmXfer(xfer).isEncapsulated()) {
    DcmPixelSequence* sequence = nullptr;
    if (pixels->getEncapsulatedRepresentation(xfer, nullptr, sequence).bad() || sequence == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("the DICOM pixel data is not encapsulated as ", XferName(xfer), " says"));
    }
    const int64_t fragments = static_cast<int64_t>(sequence->card()) - 1;  // less the offset table
    if (fragments < g.frames) {
      return absl::InvalidArgumentError(
          absl::StrCat("the DICOM file names ", g.frames, " frames but its pixel data holds ", fragments, " fragments"));
    }
    return absl::OkStatus();
  }
  const int64_t needed = int64_t{g.frames} * g.rows * g.columns * g.samples * g.bytes_per_sample;
  if (int64_t{pixels->getLength()} < needed) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM file names ", g.frames, " frames of ", g.columns, "x", g.rows,
                                                   " but its pixel data is ", pixels->getLength(), " bytes"));
  }
  return absl::OkStatus();
}

// Reads `object` from `bytes`; returns the memory file its deferred values are read from.
absl::StatusOr<std::unique_ptr<MemoryFile>> Read(DcmObject& object, std::string_view bytes, E_TransferSyntax xfer,
                                                 const DcmTagKey& stop) {
  MG_ASSIGN_OR_RETURN(std::unique_ptr<MemoryFile> memory, MemoryFile::Create(bytes));
  DcmInputFileStream stream(memory->path().c_str());
  if (stream.status().bad()) return absl::InternalError(absl::StrCat("reading the DICOM file: ", stream.status().text()));
  object.transferInit();
  OFCondition read;
  if (auto* file = dynamic_cast<DcmFileFormat*>(&object)) {
    read = file->readUntilTag(stream, xfer, EGL_noChange, DCM_MaxReadLength, stop);
  } else {
    read = static_cast<DcmDataset&>(object).read(stream, xfer, EGL_noChange, DCM_MaxReadLength);
  }
  object.transferEnd();
  if (read.bad()) return absl::InvalidArgumentError(absl::StrCat("the DICOM file does not parse: ", read.text()));
  return memory;
}
}  // namespace

DicomFile::~DicomFile() = default;

absl::StatusOr<std::unique_ptr<DicomFile>> DicomFile::Parse(std::string_view bytes, const ImageLimits& limits) {
  if (static_cast<int64_t>(bytes.size()) > limits.max_encoded_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM file is ", bytes.size(), " bytes; the limit is ", limits.max_encoded_bytes));
  }
  InitDcmtk();
  std::unique_ptr<DicomFile> out(new DicomFile());
  auto file = std::make_unique<DcmFileFormat>();
  const Meta meta = ReadMeta(bytes);
  if (meta.overrunning_length) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM file's meta header declares an element of ",
                                                   *meta.overrunning_length, " bytes, past the end of the ",
                                                   bytes.size(), "-byte file"));
  }
  // DCMTK resyncs past a broken meta header and may then read the dataset as deflated, through a
  // stream it cannot skip in, allocating declared lengths again: a file whose meta header does not
  // give its transfer syntax plainly is refused here.
  if (meta.part10 && meta.transfer_syntax.empty()) {
    return absl::InvalidArgumentError("the DICOM file's meta header is malformed: no transfer syntax (0002,0010) in it");
  }
  E_TransferSyntax xfer;
  absl::StatusOr<Geometry> g;
  if (meta.transfer_syntax == kDeflatedUid) {
    absl::StatusOr<std::string> inflated = Inflate(bytes.substr(meta.dataset_at), limits.max_encoded_bytes);
    if (!inflated.ok()) return inflated.status();
    xfer = EXS_LittleEndianExplicit;  // what deflate wraps
    MG_ASSIGN_OR_RETURN(out->memory_, Read(*file->getDataset(), *inflated, xfer, DCM_UndefinedTagKey));
    g = CheckHeader(file->getDataset(), EXS_DeflatedLittleEndianExplicit, limits);
  } else {
    // The header first, so that a file refused for its syntax or size is not copied whole.
    DcmFileFormat header;
    MG_ASSIGN_OR_RETURN(std::unique_ptr<MemoryFile> header_memory, Read(header, bytes, EXS_Unknown, DCM_PixelData));
    xfer = header.getDataset()->getOriginalXfer();
    if (xfer == EXS_DeflatedLittleEndianExplicit) return absl::InvalidArgumentError("the deflated DICOM file's meta header is malformed");
    g = CheckHeader(header.getDataset(), xfer, limits);
    if (!g.ok()) return g.status();
    MG_ASSIGN_OR_RETURN(out->memory_, Read(*file, bytes, EXS_Unknown, DCM_UndefinedTagKey));
  }
  if (!g.ok()) return g.status();
  DcmDataset* dataset = file->getDataset();
  if (absl::Status s = CheckPixelData(dataset, xfer, *g); !s.ok()) return s;
  out->study_ = Text(dataset, DCM_StudyInstanceUID);
  out->series_ = Text(dataset, DCM_SeriesInstanceUID);
  out->sop_ = Text(dataset, DCM_SOPInstanceUID);
  for (const auto& [what, uid] : {std::pair{"StudyInstanceUID", &out->study_}, std::pair{"SeriesInstanceUID", &out->series_},
                                  std::pair{"SOPInstanceUID", &out->sop_}}) {
    if (absl::Status s = CheckUid(what, *uid); !s.ok()) return s;
  }
  out->xfer_ = xfer;
  out->rows_ = g->rows;
  out->columns_ = g->columns;
  out->samples_ = g->samples;
  out->bytes_per_sample_ = g->bytes_per_sample;
  out->frames_ = g->frames;
  absl::MutexLock lock(&out->mu_);
  out->file_ = std::move(file);
  return out;
}

int64_t DicomFile::FrameBytes() const {
  const int64_t pixels = rows_ * columns_;
  // The decompressed frame, DCMTK's intermediate (up to 4 bytes a sample) and 8-bit output, our RGB.
  return pixels * samples_ * bytes_per_sample_ + pixels * samples_ * 4 + pixels * samples_ + pixels * 3;
}

absl::StatusOr<DicomFrame> DicomFile::Frame(int frame) {
  if (frame < 1 || frame > frames_) {
    return absl::InvalidArgumentError(absl::StrCat("frame ", frame, " of a DICOM image with ", frames_, " frames; name one of 1..", frames_));
  }
  const auto index = static_cast<unsigned long>(frame - 1);
  absl::MutexLock lock(&mu_);
  // The original syntax and partial access: DCMTK decompresses this frame alone.
  DicomImage image(file_->getDataset(), static_cast<E_TransferSyntax>(xfer_), CIF_UsePartialAccessToPixelData, index, 1);
  if (image.getStatus() != EIS_Normal) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM pixel data does not decode (",
                                                   XferName(static_cast<E_TransferSyntax>(xfer_)), "): ",
                                                   DicomImage::getString(image.getStatus())));
  }
  if (image.isMonochrome() && image.getDepth() > 8) image.setMinMaxWindow();
  // MONOCHROME1 displays its minimum as white. DCMTK's own inversion (presentation LUT shape
  // INVERSE) is off by one for some 8-bit values; the identity shape and 255 - v are exact.
  const bool inverted = image.getPhotometricInterpretation() == EPI_Monochrome1;
  if (inverted) image.setPresentationLutShape(ESP_Identity);
  const int64_t width = static_cast<int64_t>(image.getWidth()), height = static_cast<int64_t>(image.getHeight());
  const int64_t pixels = width * height;
  const int64_t channels = image.isMonochrome() ? 1 : 3;
  const void* data = image.getOutputData(8, 0, 0);
  // DCMTK's buffer, not the dataset's Rows/Columns, bounds the copy.
  if (data == nullptr || width != columns_ || height != rows_ ||
      static_cast<int64_t>(image.getOutputDataSize(8)) != pixels * channels) {
    return absl::InvalidArgumentError("the DICOM pixel data does not decode: truncated or corrupt");
  }
  DicomFrame out;
  out.image.width = static_cast<int>(width);
  out.image.height = static_cast<int>(height);
  out.image.pixels.resize(static_cast<size_t>(pixels) * 3);
  const auto* source = static_cast<const uint8_t*>(data);
  if (channels == 1) {
    for (int64_t i = 0; i < pixels; ++i) {
      const uint8_t v = inverted ? static_cast<uint8_t>(255 - source[i]) : source[i];
      out.image.pixels[3 * i] = out.image.pixels[3 * i + 1] = out.image.pixels[3 * i + 2] = v;
    }
  } else {
    std::memcpy(out.image.pixels.data(), source, static_cast<size_t>(pixels) * 3);
  }
  out.study_instance_uid = study_;
  out.series_instance_uid = series_;
  out.sop_instance_uid = sop_;
  out.frame = frame;
  out.frames = frames_;
  return out;
}

absl::StatusOr<int> FrameToDecode(const DicomFile& file, int frame) {
  if (frame == 0 && file.frames() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM image has ", file.frames(), " frames: name one (1..",
                                                   file.frames(), "), or classify them all with ClassifyStream or POST /v1/classify"));
  }
  return frame == 0 ? 1 : frame;
}

absl::StatusOr<DicomFrame> DecodeDicom(std::string_view bytes, int frame, const ImageLimits& limits) {
  absl::StatusOr<std::unique_ptr<DicomFile>> file = DicomFile::Parse(bytes, limits);
  if (!file.ok()) return file.status();
  absl::StatusOr<int> index = FrameToDecode(**file, frame);
  if (!index.ok()) return index.status();
  return (*file)->Frame(*index);
}

}  // namespace medgemma::server
