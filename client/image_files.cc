#include "client/image_files.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <fstream>
#include <string_view>
#include <set>

#include "base/file_util.h"
#include "engine/image_decoder.h"
#include "base/status_macros.h"

namespace medgemma::cli {
namespace fs = std::filesystem;

namespace {
const std::set<std::string> kDicomExtensions = {".dcm", ".dicom"};
}  // namespace

bool IsDicomFile(const fs::path& path) {
  if (kDicomExtensions.count(absl::AsciiStrToLower(path.extension().string()))) return true;
  std::ifstream in(path, std::ios::binary);
  char head[132] = {};
  return in.read(head, sizeof(head)) && std::string_view(head + 128, 4) == "DICM";
}

absl::StatusOr<std::vector<fs::path>> ExpandImagePaths(const std::vector<std::string>& paths, bool dicom) {
  std::set<std::string> extensions = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"};
  if (dicom) extensions.insert(kDicomExtensions.begin(), kDicomExtensions.end());
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    if (fs::is_directory(p)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(p)) {
        if (entry.is_regular_file() && extensions.count(absl::AsciiStrToLower(entry.path().extension().string()))) {
          found.push_back(entry.path());
        }
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(p)) {
      out.emplace_back(p);
    } else {
      return absl::NotFoundError(absl::StrCat("no such file or directory: ", p));
    }
  }
  if (out.empty()) return absl::InvalidArgumentError("no image files given");
  return out;
}

}  // namespace medgemma::cli
