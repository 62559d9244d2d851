// Untrusted data-set files of a fine-tune request: BreakHis' Folds.csv (first input byte even) or a
// train manifest CSV (odd), over fuzz_support's small tree with a symlink that leaves the data
// root. Whatever loads must name only regular files inside the root, with labels of the task.
#include <filesystem>

#include "base/file_util.h"
#include "engine/task.h"
#include "engine/training/dataset.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/fuzz_target.h"

namespace {
namespace fs = std::filesystem;

void CheckSplit(const std::vector<medgemma::LabeledImage>& split, const medgemma::Task& task, const fs::path& root) {
  for (const auto& image : split) {
    MEDGEMMA_FUZZ_CHECK(image.label >= 0 && image.label < static_cast<int>(task.labels.size()));
    MEDGEMMA_FUZZ_CHECK(medgemma::IsUnderRoots(image.path, {root}));
    MEDGEMMA_FUZZ_CHECK(fs::is_regular_file(image.path));
  }
}
}  // namespace

MEDGEMMA_FUZZ_TARGET(dataset_csv) {
  if (data.empty()) return;
  static const medgemma::Task task = medgemma::DefaultBreakHisTask();
  const fs::path& root = medgemma::fuzz::SmallBreakHis();
  const bool folds = (static_cast<uint8_t>(data[0]) & 1) == 0;
  // Written under another name than the tree's own files, which stay valid for the other mode.
  const fs::path csv = root / (folds ? "fuzz-folds.csv" : "fuzz-train.csv");
  medgemma::fuzz::WriteFile(csv, data.substr(1));
  absl::StatusOr<medgemma::DatasetSplits> splits =
      folds ? medgemma::LoadBreakHis({root, csv.filename(), 1, 100, true}, task, {root}, 42)
            : medgemma::LoadManifest({csv, root / "eval.csv"}, task, {root});
  if (!splits.ok()) {
    MEDGEMMA_FUZZ_CHECK(splits.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  MEDGEMMA_FUZZ_CHECK(!splits->train.empty() && !splits->eval.empty());
  CheckSplit(splits->train, task, root);
  CheckSplit(splits->eval, task, root);
}
