#include "base/audit_log.h"

#include <absl/strings/str_cat.h>
#include <absl/time/clock.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace medgemma {
namespace {
bool ToStdout(const AuditLogOptions& options) { return options.path == "-"; }

absl::StatusOr<std::FILE*> OpenForAppend(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("audit log ", path, ": ", std::strerror(errno)));
  return file;
}
}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const AuditLogOptions& options) {
  if (options.max_bytes < 4096) return absl::InvalidArgumentError("audit.max_bytes must be at least 4096");
  if (options.keep < 1 || options.keep > 1000) return absl::InvalidArgumentError("audit.keep must be in 1..1000");
  std::unique_ptr<AuditLog> log(new AuditLog(options));
  if (options.path.empty()) return log;
  absl::MutexLock lock(&log->mu_);
  if (ToStdout(options)) {
    log->file_ = stdout;
    return log;
  }
  absl::StatusOr<std::FILE*> file = OpenForAppend(options.path);
  if (!file.ok()) return file.status();
  log->file_ = *file;
  log->owned_ = true;
  std::error_code ec;
  const auto size = std::filesystem::file_size(options.path, ec);
  log->size_ = ec ? 0 : static_cast<int64_t>(size);
  return log;
}

AuditLog::~AuditLog() {
  absl::MutexLock lock(&mu_);
  if (owned_) std::fclose(file_);
}

void AuditLog::RotateLocked() {
  std::fclose(file_);
  file_ = nullptr;
  owned_ = false;
  std::error_code ec;
  const std::string& path = options_.path;
  std::filesystem::remove(absl::StrCat(path, ".", options_.keep), ec);
  for (int i = options_.keep - 1; i >= 1; --i) {
    std::filesystem::rename(absl::StrCat(path, ".", i), absl::StrCat(path, ".", i + 1), ec);  // absent: skipped
  }
  std::filesystem::rename(path, absl::StrCat(path, ".1"), ec);
  OpenFileLocked();
}

void AuditLog::OpenFileLocked() {
  absl::StatusOr<std::FILE*> file = OpenForAppend(options_.path);
  if (!file.ok()) {
    if (file_ != stderr) LogError("audit log cannot be opened; audit lines go to stderr", {{"error", file.status().ToString()}});
    file_ = stderr;
    retry_at_ = absl::Now() + options_.reopen_after;
    return;
  }
  if (file_ == stderr) LogInfo("audit log reopened", {{"path", options_.path}});
  file_ = *file;
  owned_ = true;
  std::error_code ec;
  const auto size = std::filesystem::file_size(options_.path, ec);
  size_ = ec ? 0 : static_cast<int64_t>(size);
}

void AuditLog::Write(absl::string_view event, const std::vector<LogField>& fields) {
  if (!enabled()) return;
  std::string line = absl::StrCat("{\"ts\":", JsonQuote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone())),
                                  ",\"event\":", JsonQuote(event));
  for (const LogField& field : fields) absl::StrAppend(&line, ",", JsonQuote(field.key()), ":", field.json());
  line += "}\n";
  absl::MutexLock lock(&mu_);
  if (file_ == stderr && absl::Now() >= retry_at_) OpenFileLocked();
  if (owned_ && size_ > 0 && size_ + static_cast<int64_t>(line.size()) > options_.max_bytes) RotateLocked();
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
  size_ += static_cast<int64_t>(line.size());
}

}  // namespace medgemma
