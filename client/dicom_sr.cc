#include "client/dicom_sr.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <string>

namespace medgemma::cli {
namespace {
namespace fs = std::filesystem;

DSRCodedEntryValue Code(const std::string& value, const std::string& meaning) {
  return DSRCodedEntryValue(value.c_str(), "99MEDGEMMA", meaning.c_str());
}

std::string Text(DcmDataset* dataset, const DcmTagKey& tag) {
  OFString value;
  dataset->findAndGetOFString(tag, value);
  return value.c_str();
}

absl::Status Checked(const OFCondition& condition, const std::string& what) {
  if (condition.good()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("DICOM SR: ", what, ": ", condition.text()));
}

// Adds an item after the current one (below it when `below`) and names it.
absl::Status Add(DSRDocumentTree& tree, DSRTypes::E_ValueType type, DSRTypes::E_AddMode mode, const DSRCodedEntryValue& name) {
  if (tree.addContentItem(DSRTypes::RT_contains, type, mode) == 0) return absl::InternalError("DICOM SR: a content item is refused");
  return Checked(tree.getCurrentContentItem().setConceptName(name), "concept name");
}

absl::Status AddNumber(DSRDocumentTree& tree, const DSRCodedEntryValue& name, double value) {
  if (absl::Status s = Add(tree, DSRTypes::VT_Num, DSRTypes::AM_afterCurrent, name); !s.ok()) return s;
  const DSRNumericMeasurementValue number(absl::StrFormat("%.6f", value).c_str(), DSRCodedEntryValue("1", "UCUM", "no units"));
  return Checked(tree.getCurrentContentItem().setNumericValue(number), "numeric value");
}

absl::Status AddText(DSRDocumentTree& tree, const DSRCodedEntryValue& name, const std::string& text) {
  if (absl::Status s = Add(tree, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent, name); !s.ok()) return s;
  return Checked(tree.getCurrentContentItem().setStringValue(text.empty() ? "-" : text.c_str()), "text value");
}

struct Source {
  std::string study, series, sop_class, sop;
};

absl::Status AddFrame(DSRDocumentTree& tree, const Source& source, const v1::ClassifyResponse& r, bool first) {
  if (absl::Status s = Add(tree, DSRTypes::VT_Container, first ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent,
                           Code("MG-FRAME", "Classified frame"));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Add(tree, DSRTypes::VT_Image, DSRTypes::AM_belowCurrent, Code("MG-SOURCE", "Source image")); !s.ok()) {
    return s;
  }
  DSRImageReferenceValue image(source.sop_class.c_str(), source.sop.c_str());
  if (r.dicom().frames() > 1) image.getFrameList().addItem(static_cast<Sint32>(r.dicom().frame()));
  if (absl::Status s = Checked(tree.getCurrentContentItem().setImageReference(image), "image reference"); !s.ok()) return s;
  if (absl::Status s = AddText(tree, Code("MG-LABEL", "Label"), r.label_name()); !s.ok()) return s;
  if (absl::Status s = AddNumber(tree, Code("MG-CONFIDENCE", "Confidence"), r.confidence()); !s.ok()) return s;
  for (const auto& p : r.probabilities()) {
    if (absl::Status s = AddNumber(tree, Code(absl::StrCat("MG-P", p.label()), absl::StrCat("Probability of ", p.name())),
                                   p.probability());
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = AddText(tree, Code("MG-MODEL", "Model"), r.model_id()); !s.ok()) return s;
  const std::string adapter = r.adapter().empty() ? "base model" : absl::StrCat(r.adapter(), " ", r.adapter_version());
  if (absl::Status s = AddText(tree, Code("MG-ADAPTER", "Adapter version"), adapter); !s.ok()) return s;
  tree.goUp();  // back to the frame's container
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<fs::path> WriteClassificationSr(const fs::path& source_path, const std::vector<v1::ClassifyResponse>& frames,
                                              const fs::path& dir) {
  DcmFileFormat file;
  // Values above DCM_MaxReadLength (the pixel data) are left on disk.
  if (absl::Status s = Checked(file.loadFile(source_path.c_str()), absl::StrCat("reading ", source_path.string())); !s.ok()) {
    return s;
  }
  DcmDataset* dataset = file.getDataset();
  const Source source{Text(dataset, DCM_StudyInstanceUID), Text(dataset, DCM_SeriesInstanceUID),
                      Text(dataset, DCM_SOPClassUID), Text(dataset, DCM_SOPInstanceUID)};
  DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
  if (absl::Status s = Checked(doc.createNewSeriesInStudy(source.study.c_str()), "study"); !s.ok()) return s;
  for (const auto& [tag, set] : {std::pair{DCM_PatientName, &DSRDocument::setPatientName},
                                 std::pair{DCM_PatientID, &DSRDocument::setPatientID},
                                 std::pair{DCM_PatientBirthDate, &DSRDocument::setPatientBirthDate},
                                 std::pair{DCM_PatientSex, &DSRDocument::setPatientSex}}) {
    const std::string value = Text(dataset, tag);
    if (!value.empty()) (doc.*set)(value.c_str(), OFTrue);
  }
  doc.setSeriesDescription("medgemma-serve classification", OFTrue);
  doc.setManufacturer("medgemma-serve", OFTrue);
  DSRDocumentTree& tree = doc.getTree();
  if (tree.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container) == 0) return absl::InternalError("DICOM SR: no root");
  if (absl::Status s = Checked(tree.getCurrentContentItem().setConceptName(Code("MG-CLASSIFICATION",
                                                                                "Histopathology image classification")),
                               "root");
      !s.ok()) {
    return s;
  }
  bool first = true;
  for (const v1::ClassifyResponse& r : frames) {
    if (r.has_error()) continue;
    if (absl::Status s = AddFrame(tree, source, r, first); !s.ok()) return s;
    first = false;
  }
  if (first) return absl::InvalidArgumentError(absl::StrCat(source_path.string(), ": no frame was classified"));
  if (absl::Status s = Checked(doc.getCurrentRequestedProcedureEvidence().addItem(source.study.c_str(), source.series.c_str(),
                                                                                  source.sop_class.c_str(), source.sop.c_str()),
                               "evidence");
      !s.ok()) {
    return s;
  }
  DcmFileFormat out;
  if (absl::Status s = Checked(doc.write(*out.getDataset()), "building the report"); !s.ok()) return s;
  const fs::path path = dir / absl::StrCat(source_path.stem().string(), ".sr.dcm");
  if (absl::Status s = Checked(out.saveFile(path.c_str(), EXS_LittleEndianExplicit), absl::StrCat("writing ", path.string()));
      !s.ok()) {
    return s;
  }
  return path;
}

}  // namespace medgemma::cli
