// A synthetic data set in BreakHis' layout, for the demo and tests (the real one cannot be
// downloaded here):
//   BreaKHis_v1/histology_slides/breast/{benign,malignant}/SOB/<type>/<patient>/<mag>X/*.png
// plus Folds.csv (fold, mag, grp, filename) with 5 patient-wise folds. Each of the 8 tumour types
// is a procedurally distinct texture (hue, stripe angle, blob density) that survives the resize
// to the tiny model's 64 px, so a LoRA fine-tune can learn it.
#pragma once

#include <absl/status/status.h>

#include <filesystem>

namespace medgemma::cli {

struct DemoDataOptions {
  uint64_t seed = 0;
  int patients_per_type = 5;
  int images_per_patient = 4;  // at each magnification
  int width = 700, height = 460;
};

absl::Status WriteDemoData(const std::filesystem::path& root, const DemoDataOptions& options);

}  // namespace medgemma::cli
