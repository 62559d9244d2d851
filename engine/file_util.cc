#include "engine/file_util.h"

#include <absl/strings/str_cat.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace medgemma {
namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadFileToString(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path.string()));
  return contents.str();
}

namespace {
absl::Status SyncPath(const fs::path& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path.string(), ": ", std::strerror(errno)));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync ", path.string(), ": ", std::strerror(errno)));
  return absl::OkStatus();
}
}  // namespace

absl::Status WriteFileAtomically(const fs::path& path,
                                 const std::function<absl::Status(std::ostream&)>& write) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", dir.string(), ": ", ec.message()));
  const fs::path tmp = dir / absl::StrCat(".", path.filename().string(), ".tmp", std::random_device{}());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot create ", tmp.string()));
    absl::Status written = write(out);
    out.flush();
    if (written.ok() && !out) written = absl::InternalError(absl::StrCat("error writing ", tmp.string()));
    if (!written.ok()) {
      fs::remove(tmp, ec);
      return written;
    }
  }
  absl::Status synced = SyncPath(tmp, O_RDONLY);
  if (!synced.ok()) {
    fs::remove(tmp, ec);
    return synced;
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return absl::InternalError(absl::StrCat("rename to ", path.string(), ": ", ec.message()));
  }
  return SyncDirectory(dir);
}

absl::Status SyncDirectory(const fs::path& dir) { return SyncPath(dir, O_RDONLY | O_DIRECTORY); }

absl::Status WriteStringAtomically(const fs::path& path, const std::string& contents) {
  return WriteFileAtomically(path, [&](std::ostream& out) {
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return absl::OkStatus();
  });
}

void RemoveTree(const fs::path& path) {
  ::nftw(path.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
         FTW_DEPTH | FTW_PHYS);
}

bool IsUnderRoots(const fs::path& path, const std::vector<fs::path>& roots) {
  if (roots.empty()) return true;
  std::error_code ec;
  const fs::path real = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) return false;
  for (const auto& root : roots) {
    const fs::path real_root = fs::weakly_canonical(fs::absolute(root, ec), ec);
    if (ec) continue;
    auto mismatch = std::mismatch(real_root.begin(), real_root.end(), real.begin(), real.end());
    if (mismatch.first == real_root.end()) return true;
  }
  return false;
}

}  // namespace medgemma
