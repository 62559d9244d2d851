#include "base/file_util.h"

#include "base/status_macros.h"

#include <absl/strings/str_cat.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace medgemma {
namespace fs = std::filesystem;

absl::StatusOr<int> OpenRegularFile(const fs::path& path, uint64_t max_bytes, uint64_t* size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int error = errno;
    const std::string message = absl::StrCat("cannot open ", path.string(), ": ", std::strerror(error));
    return error == ENOENT || error == ENOTDIR ? absl::NotFoundError(message) : absl::FailedPreconditionError(message);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(absl::StrCat(path.string(), " is not a regular file"));
  }
  *size = static_cast<uint64_t>(st.st_size);
  if (*size > max_bytes) {
    ::close(fd);
    return absl::ResourceExhaustedError(
        absl::StrCat(path.string(), " holds ", *size, " bytes, over the limit of ", max_bytes));
  }
  // Back to blocking reads for the regular file.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

absl::StatusOr<std::string> ReadFileToString(const fs::path& path, uint64_t max_bytes) {
  uint64_t size = 0;
  MG_ASSIGN_OR_RETURN(const int fd, OpenRegularFile(path, max_bytes, &size));
  // A file that grows while it is read is cut at the size it had when opened.
  std::string contents(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, contents.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      return absl::DataLossError(absl::StrCat("error reading ", path.string(), n == 0 ? ": file shrank" : ": ",
                                              n == 0 ? "" : std::strerror(error)));
    }
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return contents;
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
