#include "engine/training/dataset.h"

#include <absl/strings/ascii.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>

#include <algorithm>
#include <map>
#include <random>

#include "base/file_util.h"
#include "base/status_macros.h"

namespace medgemma {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxReported = 10;

// Problems found while reading a data set, reported together so one round trip fixes them all.
class Problems {
 public:
  void Add(std::string problem) {
    if (list_.size() < kMaxReported) list_.push_back(std::move(problem));
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  absl::Status ToStatus(const std::string& what) const {
    if (count_ == 0) return absl::OkStatus();
    std::string more = count_ > list_.size() ? absl::StrCat("; and ", count_ - list_.size(), " more") : "";
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", absl::StrJoin(list_, "; "), more));
  }

 private:
  std::vector<std::string> list_;
  size_t count_ = 0;
};

std::vector<std::vector<std::string>> ReadCsvRows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    std::vector<std::string> fields;
    for (absl::string_view f : absl::StrSplit(line, ',')) fields.emplace_back(absl::StripAsciiWhitespace(f));
    rows.push_back(std::move(fields));
  }
  return rows;
}

absl::Status CheckInsideRoots(const fs::path& path, const std::vector<fs::path>& roots, const std::string& what) {
  if (IsUnderRoots(path, roots)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " ", path.string(), " is outside the configured data roots (", absl::StrJoin(roots, ", ",
                   [](std::string* out, const fs::path& p) { out->append(p.string()); }), ")"));
}

// The problem with one image row, or "" when it is fine.
std::string ImageProblem(const fs::path& path, const std::vector<fs::path>& roots) {
  if (!IsUnderRoots(path, roots)) return absl::StrCat(path.string(), " is outside the data roots");
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return absl::StrCat(path.string(), " does not exist");
  return "";
}

int LabelFromBreakHisPath(const fs::path& relative, const Task& task) {
  std::vector<std::string> parts;
  for (const auto& p : relative) parts.push_back(p.string());
  for (size_t i = 1; i + 1 < parts.size(); ++i) {
    if (parts[i] != "SOB") continue;
    const std::string& group = parts[i - 1];
    const std::string& type = parts[i + 1];
    for (size_t l = 0; l < task.labels.size(); ++l) {
      if (task.labels[l].name == absl::StrCat(group, "_", type) || task.labels[l].name == type) return static_cast<int>(l);
    }
  }
  return -1;
}

int LabelFromManifestField(const std::string& field, const Task& task) {
  for (size_t l = 0; l < task.labels.size(); ++l) {
    if (task.labels[l].name == field) return static_cast<int>(l);
  }
  int index = -1;
  if (absl::SimpleAtoi(field, &index) && index >= 0 && index < static_cast<int>(task.labels.size())) return index;
  return -1;
}

absl::StatusOr<std::vector<LabeledImage>> ReadManifest(const fs::path& csv, const Task& task,
                                                       const std::vector<fs::path>& roots, const std::string& split) {
  MG_RETURN_IF_ERROR(CheckInsideRoots(csv, roots, absl::StrCat(split, " manifest")));
  auto text = ReadFileToString(csv);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat(split, " manifest: ", text.status().message()));
  const auto rows = ReadCsvRows(*text);
  std::vector<LabeledImage> images;
  Problems problems;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const std::string where = absl::StrCat(csv.filename().string(), " row ", i + 1);
    if (row.size() == 1 && row[0].empty()) continue;
    if (i == 0 && row.size() == 2 && absl::AsciiStrToLower(row[0]) == "path") continue;  // header
    if (row.size() != 2 || row[0].empty()) {
      problems.Add(absl::StrCat(where, ": expected 'path,label'"));
      continue;
    }
    const int label = LabelFromManifestField(row[1], task);
    if (label < 0) problems.Add(absl::StrCat(where, ": unknown label '", row[1], "'"));
    const fs::path path = fs::path(row[0]).is_absolute() ? fs::path(row[0]) : csv.parent_path() / row[0];
    if (std::string p = ImageProblem(path, roots); !p.empty()) problems.Add(absl::StrCat(where, ": ", p));
    if (label >= 0) images.push_back({path, label});
  }
  MG_RETURN_IF_ERROR(problems.ToStatus(absl::StrCat(split, " manifest ", csv.string())));
  if (images.empty()) return absl::InvalidArgumentError(absl::StrCat(split, " manifest ", csv.string(), " has no rows"));
  return images;
}

}  // namespace

std::vector<LabeledImage> BalanceGroups(const std::vector<LabeledImage>& images, const Task& task, uint64_t seed) {
  std::map<int, std::vector<size_t>> by_group;
  for (size_t i = 0; i < images.size(); ++i) by_group[task.GroupIndex(task.labels[images[i].label].group)].push_back(i);
  if (by_group.size() < 2) return images;
  size_t smallest = images.size();
  for (const auto& [group, members] : by_group) smallest = std::min(smallest, members.size());
  std::mt19937_64 rng(seed);
  std::vector<bool> keep(images.size(), false);
  for (auto& [group, members] : by_group) {
    // Partial Fisher-Yates: a seeded sample that does not depend on the library's shuffle.
    for (size_t i = 0; i < smallest; ++i) {
      const size_t j = i + rng() % (members.size() - i);
      std::swap(members[i], members[j]);
      keep[members[i]] = true;
    }
  }
  std::vector<LabeledImage> kept;
  for (size_t i = 0; i < images.size(); ++i) {
    if (keep[i]) kept.push_back(images[i]);
  }
  return kept;
}

absl::StatusOr<DatasetSplits> LoadBreakHis(const BreakHisSource& source, const Task& task,
                                           const std::vector<fs::path>& roots, uint64_t seed) {
  if (source.root.empty()) return absl::InvalidArgumentError("dataset.breakhis.root is empty");
  if (source.fold < 1 || source.fold > 5) {
    return absl::InvalidArgumentError(absl::StrCat("dataset.breakhis.fold must be 1..5, got ", source.fold));
  }
  const std::vector<int> magnifications{40, 100, 200, 400};
  if (std::find(magnifications.begin(), magnifications.end(), source.magnification) == magnifications.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset.breakhis.magnification must be 40, 100, 200 or 400, got ", source.magnification));
  }
  MG_RETURN_IF_ERROR(CheckInsideRoots(source.root, roots, "dataset root"));
  const fs::path csv = source.folds_csv.empty() ? source.root / "Folds.csv"
                       : source.folds_csv.is_absolute() ? source.folds_csv : source.root / source.folds_csv;
  MG_RETURN_IF_ERROR(CheckInsideRoots(csv, roots, "folds csv"));
  auto text = ReadFileToString(csv);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat("folds csv: ", text.status().message()));
  const auto rows = ReadCsvRows(*text);
  if (rows.empty() || absl::StrJoin(rows[0], ",") != "fold,mag,grp,filename") {
    return absl::InvalidArgumentError(absl::StrCat(csv.string(), ": the header must be 'fold,mag,grp,filename'"));
  }
  DatasetSplits splits;
  Problems problems;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (row.size() == 1 && row[0].empty()) continue;
    const std::string where = absl::StrCat("Folds.csv row ", i + 1);
    int fold = 0, mag = 0;
    if (row.size() != 4 || !absl::SimpleAtoi(row[0], &fold) || !absl::SimpleAtoi(row[1], &mag) ||
        (row[2] != "train" && row[2] != "test")) {
      problems.Add(absl::StrCat(where, ": expected 'fold,mag,train|test,filename'"));
      continue;
    }
    if (fold != source.fold || mag != source.magnification) continue;
    const int label = LabelFromBreakHisPath(row[3], task);
    if (label < 0) problems.Add(absl::StrCat(where, ": no task label for the tumour type in ", row[3]));
    const fs::path path = source.root / row[3];
    if (std::string p = ImageProblem(path, roots); !p.empty()) problems.Add(absl::StrCat(where, ": ", p));
    if (label >= 0) (row[2] == "train" ? splits.train : splits.eval).push_back({path, label});
  }
  MG_RETURN_IF_ERROR(problems.ToStatus(csv.string()));
  if (source.balance) {
    splits.train = BalanceGroups(splits.train, task, seed);
    splits.eval = BalanceGroups(splits.eval, task, seed + 1);
  }
  for (const auto& [name, split] : {std::pair{"train", &splits.train}, std::pair{"test", &splits.eval}}) {
    if (split->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(csv.string(), " has no ", name, " rows for fold ", source.fold,
                                                     " at ", source.magnification, "X"));
    }
  }
  return splits;
}

absl::StatusOr<DatasetSplits> LoadManifest(const ManifestSource& source, const Task& task,
                                           const std::vector<fs::path>& roots) {
  if (source.train_csv.empty() || source.eval_csv.empty()) {
    return absl::InvalidArgumentError("dataset.manifest needs both train_csv and eval_csv");
  }
  DatasetSplits splits;
  MG_ASSIGN_OR_RETURN(splits.train, ReadManifest(source.train_csv, task, roots, "train"));
  MG_ASSIGN_OR_RETURN(splits.eval, ReadManifest(source.eval_csv, task, roots, "eval"));
  return splits;
}

}  // namespace medgemma
