#include "engine/training/dataset.h"

#include <absl/strings/ascii.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <unordered_map>

#include "base/csv.h"
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

// The rows of a CSV file, each field trimmed of surrounding whitespace ("path, label" has always
// been accepted). Row i is the file's record i + 1, as a spreadsheet numbers it.
absl::StatusOr<std::vector<std::vector<std::string>>> ReadCsvRows(const fs::path& csv, const std::string& what) {
  auto text = ReadFileToString(csv);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", text.status().message()));
  auto records = ParseCsv(*text);
  if (!records.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", csv.string(), ": ", records.status().message()));
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(records->size());
  for (CsvRecord& record : *records) {
    for (std::string& field : record.fields) field = std::string(absl::StripAsciiWhitespace(field));
    rows.push_back(std::move(record.fields));
  }
  return rows;
}

bool IsBlank(const std::vector<std::string>& row) { return row.empty() || (row.size() == 1 && row[0].empty()); }

absl::Status CheckInsideRoots(const fs::path& path, const std::vector<fs::path>& roots, const std::string& what) {
  if (IsUnderRoots(path, roots)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " ", path.string(), " is outside the configured data roots (", absl::StrJoin(roots, ", ",
                   [](std::string* out, const fs::path& p) { out->append(p.string()); }), ")"));
}

std::string Outside(const fs::path& path) { return absl::StrCat(path.string(), " is outside the data roots"); }
std::string Missing(const fs::path& path) { return absl::StrCat(path.string(), " does not exist"); }

// The problem with one image, or "" when it is fine: outside the data roots (symlinks and ".."
// resolved), or not a regular file.
std::string ImageProblem(const fs::path& path, const std::vector<fs::path>& roots) {
  if (!IsUnderRoots(path, roots)) return Outside(path);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Missing(path);
  return "";
}

// ImageProblem at a cost that stays small for data sets of 10^5 rows: each distinct directory is
// resolved and placed against the roots once, and each file in it then costs one lstat. A file
// that is itself a symlink, or a name such as "..", takes ImageProblem's full path.
class ImageChecker {
 public:
  explicit ImageChecker(const std::vector<fs::path>& roots) : roots_(roots) {}

  std::string Problem(const fs::path& path) {
    const fs::path name = path.filename();
    if (name.empty() || name == "." || name == "..") return ImageProblem(path, roots_);
    const Directory& dir = Resolved(path.has_parent_path() ? path.parent_path() : fs::path("."));
    if (!dir.real) return ImageProblem(path, roots_);
    struct stat st {};
    // Through a directory that does not exist ("gone/../a.png"), the path names no file.
    const bool found = dir.exists && ::lstat((*dir.real / name).c_str(), &st) == 0;
    if (found && S_ISLNK(st.st_mode)) return ImageProblem(path, roots_);
    // A name outside the roots' directories can still be a root itself (and then no file).
    if (!dir.inside && !IsUnderRoots(path, roots_)) return Outside(path);
    if (!found || !S_ISREG(st.st_mode)) return Missing(path);
    return "";
  }

 private:
  struct Directory {
    std::optional<fs::path> real;  // symlinks and ".." resolved; unset when that failed
    bool exists = false;           // as a directory
    bool inside = false;
  };

  const Directory& Resolved(const fs::path& dir) {
    auto [it, added] = directories_.try_emplace(dir.native());
    if (added) {
      std::error_code ec;
      fs::path real = fs::weakly_canonical(fs::absolute(dir, ec), ec);
      if (!ec) it->second.real = std::move(real);
      it->second.exists = fs::is_directory(dir, ec);
      it->second.inside = IsUnderRoots(dir, roots_);
    }
    return it->second;
  }

  const std::vector<fs::path>& roots_;
  std::unordered_map<std::string, Directory> directories_;
};

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
  MG_ASSIGN_OR_RETURN(const auto rows, ReadCsvRows(csv, absl::StrCat(split, " manifest")));
  std::vector<LabeledImage> images;
  ImageChecker checker(roots);
  Problems problems;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const std::string where = absl::StrCat(csv.filename().string(), " row ", i + 1);
    if (IsBlank(row)) continue;
    if (i == 0 && row.size() == 2 && absl::AsciiStrToLower(row[0]) == "path") continue;  // header
    if (row.size() != 2 || row[0].empty()) {
      problems.Add(absl::StrCat(where, ": expected 'path,label'"));
      continue;
    }
    const int label = LabelFromManifestField(row[1], task);
    if (label < 0) problems.Add(absl::StrCat(where, ": unknown label '", row[1], "'"));
    const fs::path path = fs::path(row[0]).is_absolute() ? fs::path(row[0]) : csv.parent_path() / row[0];
    if (std::string p = checker.Problem(path); !p.empty()) problems.Add(absl::StrCat(where, ": ", p));
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
  MG_ASSIGN_OR_RETURN(const auto rows, ReadCsvRows(csv, "folds csv"));
  if (rows.empty() || rows[0] != std::vector<std::string>{"fold", "mag", "grp", "filename"}) {
    return absl::InvalidArgumentError(absl::StrCat(csv.string(), ": the header must be 'fold,mag,grp,filename'"));
  }
  DatasetSplits splits;
  ImageChecker checker(roots);
  Problems problems;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (IsBlank(row)) continue;
    const std::string where = absl::StrCat(csv.filename().string(), " row ", i + 1);
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
    if (std::string p = checker.Problem(path); !p.empty()) problems.Add(absl::StrCat(where, ": ", p));
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
