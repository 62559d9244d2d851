#include "server/dicom_decoder.h"

#include <absl/strings/str_cat.h>
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/diregist.h>  // color images in DicomImage
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>

#include <memory>
#include <mutex>

namespace medgemma::server {
namespace {
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

void RegisterCodecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    DJDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

absl::StatusOr<std::unique_ptr<DcmFileFormat>> Parse(std::string_view bytes) {
  DcmInputBufferStream stream;
  stream.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  stream.setEos();
  auto file = std::make_unique<DcmFileFormat>();
  file->transferInit();
  const OFCondition read = file->read(stream);
  file->transferEnd();
  if (read.bad()) return absl::InvalidArgumentError(absl::StrCat("the DICOM file does not parse: ", read.text()));
  return file;
}

std::string Text(DcmDataset* dataset, const DcmTagKey& tag) {
  OFString value;
  dataset->findAndGetOFString(tag, value);
  return std::string(value.c_str());
}

struct Geometry {
  int64_t rows = 0, columns = 0;
  int frames = 1;
};

absl::StatusOr<Geometry> GeometryOf(DcmDataset* dataset) {
  Uint16 rows = 0, columns = 0;
  if (dataset->findAndGetUint16(DCM_Rows, rows).bad() || dataset->findAndGetUint16(DCM_Columns, columns).bad()) {
    return absl::InvalidArgumentError("the DICOM file has no Rows/Columns: not an image");
  }
  Sint32 frames = 1;
  if (dataset->findAndGetSint32(DCM_NumberOfFrames, frames).bad()) frames = 1;  // absent: one frame
  if (rows == 0 || columns == 0 || frames < 1) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM image is ", columns, "x", rows, " with ", frames, " frames"));
  }
  return Geometry{rows, columns, static_cast<int>(frames)};
}
}  // namespace

absl::StatusOr<DicomHeader> ReadDicomHeader(std::string_view bytes) {
  absl::StatusOr<std::unique_ptr<DcmFileFormat>> file = Parse(bytes);
  if (!file.ok()) return file.status();
  absl::StatusOr<Geometry> g = GeometryOf((*file)->getDataset());
  if (!g.ok()) return g.status();
  return DicomHeader{g->rows, g->columns, g->frames};
}

absl::StatusOr<DicomFrame> DecodeDicom(std::string_view bytes, int frame, const ImageLimits& limits) {
  if (bytes.size() > limits.max_encoded_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM file is ", bytes.size(), " bytes; the limit is ", limits.max_encoded_bytes));
  }
  absl::StatusOr<std::unique_ptr<DcmFileFormat>> file = Parse(bytes);
  if (!file.ok()) return file.status();
  DcmDataset* dataset = (*file)->getDataset();
  const E_TransferSyntax xfer = dataset->getOriginalXfer();
  if (!Supported(xfer)) {
    const DcmXfer named(xfer);
    return absl::InvalidArgumentError(absl::StrCat("unsupported DICOM transfer syntax ", named.getXferName(), " (",
                                                   named.getXferID(), ")"));
  }
  absl::StatusOr<Geometry> g = GeometryOf(dataset);
  if (!g.ok()) return g.status();
  if (g->rows * g->columns > limits.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM image is ", g->columns, "x", g->rows, "; the limit is ",
                                                   limits.max_pixels, " pixels"));
  }
  if (frame < 0 || frame > g->frames || (frame == 0 && g->frames > 1)) {
    return absl::InvalidArgumentError(absl::StrCat("frame ", frame, " of a DICOM image with ", g->frames,
                                                   " frames; name one of 1..", g->frames));
  }
  const int index = frame == 0 ? 0 : frame - 1;
  RegisterCodecs();
  if (dataset->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the DICOM pixel data does not decode (", DcmXfer(xfer).getXferName(), "): truncated or corrupt"));
  }
  DicomImage image(dataset, EXS_LittleEndianExplicit, CIF_UsePartialAccessToPixelData, static_cast<unsigned long>(index), 1);
  if (image.getStatus() != EIS_Normal) {
    return absl::InvalidArgumentError(absl::StrCat("the DICOM pixel data does not decode: ",
                                                   DicomImage::getString(image.getStatus())));
  }
  if (image.isMonochrome() && image.getDepth() > 8) image.setMinMaxWindow();
  // MONOCHROME1 displays its minimum as white. DCMTK's own inversion (presentation LUT shape
  // INVERSE) is off by one for some 8-bit values; the identity shape and 255 - v are exact.
  const bool inverted = image.getPhotometricInterpretation() == EPI_Monochrome1;
  if (inverted) image.setPresentationLutShape(ESP_Identity);
  const int64_t pixels = g->rows * g->columns;
  const void* data = image.getOutputData(8, 0, 0);
  if (data == nullptr) return absl::InvalidArgumentError("the DICOM pixel data does not decode: truncated or corrupt");
  DicomFrame out;
  out.image.width = static_cast<int>(g->columns);
  out.image.height = static_cast<int>(g->rows);
  out.image.pixels.resize(static_cast<size_t>(pixels) * 3);
  const auto* source = static_cast<const uint8_t*>(data);
  if (image.isMonochrome()) {
    for (int64_t i = 0; i < pixels; ++i) {
      const uint8_t v = inverted ? static_cast<uint8_t>(255 - source[i]) : source[i];
      out.image.pixels[3 * i] = out.image.pixels[3 * i + 1] = out.image.pixels[3 * i + 2] = v;
    }
  } else {
    std::copy(source, source + pixels * 3, out.image.pixels.begin());
  }
  out.study_instance_uid = Text(dataset, DCM_StudyInstanceUID);
  out.series_instance_uid = Text(dataset, DCM_SeriesInstanceUID);
  out.sop_instance_uid = Text(dataset, DCM_SOPInstanceUID);
  out.frame = index + 1;
  out.frames = g->frames;
  return out;
}

}  // namespace medgemma::server
