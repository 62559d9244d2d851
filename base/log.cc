#include "base/log.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/time/clock.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <mutex>

#include "base/utf8.h"

namespace medgemma {
namespace {

std::atomic<LogLevel> g_min_level{LogLevel::kInfo};

void WriteAll(const std::string& line) {
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to report a failing stderr
    written += static_cast<size_t>(n);
  }
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (name == LogLevelName(level)) return level;
  }
  return absl::InvalidArgumentError(absl::StrCat("log level must be debug, info, warning or error, got '", name, "'"));
}

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::string JsonQuote(absl::string_view text) {
  const std::string valid = ToValidUtf8(std::string_view(text.data(), text.size()));
  std::string out = "\"";
  out.reserve(valid.size() + 2);
  for (const char c : valid) {
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

LogField::LogField(absl::string_view key, absl::string_view value) : key_(key), json_(JsonQuote(value)) {}

LogField::LogField(absl::string_view key, const std::vector<std::string>& values) : key_(key), json_("[") {
  for (size_t i = 0; i < values.size(); ++i) absl::StrAppend(&json_, i ? "," : "", JsonQuote(values[i]));
  json_.push_back(']');
}

LogField::LogField(absl::string_view key, bool value) : key_(key), json_(value ? "true" : "false") {}

LogField::LogField(absl::string_view key, double value)
    : key_(key), json_(std::isfinite(value) ? absl::StrFormat("%.6g", value) : "null") {}

std::string FormatLogLine(absl::Time time, LogLevel level, absl::string_view msg, const std::vector<LogField>& fields) {
  std::string line = absl::StrCat("{\"ts\":\"", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()),
                                  "\",\"level\":\"", LogLevelName(level), "\",\"msg\":", JsonQuote(msg));
  for (const LogField& field : fields) absl::StrAppend(&line, ",", JsonQuote(field.key()), ":", field.json());
  line.push_back('}');
  return line;
}

void SetMinLogLevel(LogLevel level) { g_min_level.store(level, std::memory_order_relaxed); }

bool LogEnabled(LogLevel level) { return level >= g_min_level.load(std::memory_order_relaxed); }

void Log(LogLevel level, absl::string_view msg, const std::vector<LogField>& fields) {
  if (!LogEnabled(level)) return;
  const std::string line = FormatLogLine(absl::Now(), level, msg, fields) + "\n";
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  WriteAll(line);
}

}  // namespace medgemma
