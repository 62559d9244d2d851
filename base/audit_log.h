// The audit trail: one JSON line per classification and per admin or trainer action, for the
// people who must later answer "who asked what, and what did the model say":
//   {"ts":"2026-01-02T03:04:05.678Z","event":"classify","request_id":"r1","caller":"pacs-router",...}
// Callers pass who (a token's name, never its value), what and the outcome; never pixel data.
// Lines go to stdout or to a file that rotates by size (FILE, FILE.1 ... FILE.<keep>, oldest
// dropped). Each line is written whole under a lock and flushed, so a crash loses no answered
// request's line. An AuditLog opened with an empty path writes nothing. When a rotation cannot
// reopen the file, lines go to stderr (never lost) and the file is tried again every
// `reopen_after` until it opens.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/log.h"

namespace medgemma {

struct AuditLogOptions {
  std::string path;                   // "-": stdout; empty: off
  int64_t max_bytes = 100ll << 20;    // a file rotates before a line would take it past this
  int keep = 5;                       // rotated files kept
  absl::Duration reopen_after = absl::Seconds(10);  // between tries after a failed rotation
};

class AuditLog {
 public:
  // INVALID_ARGUMENT for bad limits; the file's open error when it cannot be opened for append.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const AuditLogOptions& options);
  ~AuditLog();

  bool enabled() const { return !options_.path.empty(); }
  // {"ts":..., "event": event, fields...}
  void Write(absl::string_view event, const std::vector<LogField>& fields);

 private:
  explicit AuditLog(AuditLogOptions options) : options_(std::move(options)) {}
  void RotateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens options_.path for append, or falls back to stderr until the next try.
  void OpenFileLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AuditLogOptions options_;
  absl::Mutex mu_;
  std::FILE* file_ ABSL_GUARDED_BY(mu_) = nullptr;  // stdout, stderr, an owned file, or null when off
  bool owned_ ABSL_GUARDED_BY(mu_) = false;         // file_ is ours to close (never stdout/stderr)
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_);       // on the stderr fallback: when to try the file again
  int64_t size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace medgemma
