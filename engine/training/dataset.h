// Labelled image lists for fine-tuning and evaluation, from BreakHis' own layout (Folds.csv and
// the tumour-type folders) or from manifest CSVs. Everything is checked before a job is queued:
// files exist, labels are known, splits are non-empty, and no path leaves the data roots.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/task.h"

namespace medgemma {

struct LabeledImage {
  std::filesystem::path path;
  int label = 0;  // index into the task's labels
};

struct DatasetSplits {
  std::vector<LabeledImage> train;
  std::vector<LabeledImage> eval;
};

struct BreakHisSource {
  std::filesystem::path root;      // holds Folds.csv and the BreaKHis_v1 tree its filenames name
  std::filesystem::path folds_csv; // empty: root/Folds.csv; relative: under root
  int fold = 1;
  int magnification = 100;
  bool balance = true;             // undersample the larger groups of each split to the smallest
};

struct ManifestSource {
  std::filesystem::path train_csv;  // rows "path,label"; paths relative to the CSV's directory
  std::filesystem::path eval_csv;   // label: the task label's name or index
};

// Both files are RFC 4180 CSV (base/csv.h: a path with a comma is quoted), each field trimmed of
// surrounding whitespace; problems name the row as a spreadsheet numbers it.
// Folds.csv columns fold,mag,grp,filename; grp "train" feeds training and "test" evaluation. A
// row's label is "<group>_<type>" (or "<type>") from .../<group>/SOB/<type>/... in its filename.
absl::StatusOr<DatasetSplits> LoadBreakHis(const BreakHisSource& source, const Task& task,
                                           const std::vector<std::filesystem::path>& roots, uint64_t seed);
absl::StatusOr<DatasetSplits> LoadManifest(const ManifestSource& source, const Task& task,
                                           const std::vector<std::filesystem::path>& roots);

// Keeps, per group, a seeded random subset as large as the smallest group, in the original order.
std::vector<LabeledImage> BalanceGroups(const std::vector<LabeledImage>& images, const Task& task, uint64_t seed);

}  // namespace medgemma
