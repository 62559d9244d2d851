#include "client/image_files.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <set>

#include "base/file_util.h"
#include "engine/image_decoder.h"
#include "base/status_macros.h"

namespace medgemma::cli {
namespace fs = std::filesystem;

absl::StatusOr<std::vector<fs::path>> ExpandImagePaths(const std::vector<std::string>& paths) {
  static const std::set<std::string> kExtensions = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"};
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    if (fs::is_directory(p)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(p)) {
        if (entry.is_regular_file() && kExtensions.count(absl::AsciiStrToLower(entry.path().extension().string()))) {
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
