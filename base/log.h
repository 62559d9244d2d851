// Structured logs: one JSON object per line on stderr,
//   {"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"adapter loaded","name":"a1","version":"..."}
// for machines (log shippers) and people (jq) alike. Strings are escaped and invalid UTF-8 is
// replaced by U+FFFD, so a line always parses. Debug lines (one per request) are off unless the
// process lowers the level; callers never pass secrets (tokens) as fields.
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <absl/time/time.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace medgemma {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);  // debug | info | warning | error
absl::string_view LogLevelName(LogLevel level);

// One key and its value, already rendered as JSON.
class LogField {
 public:
  LogField(absl::string_view key, absl::string_view value);
  LogField(absl::string_view key, const char* value) : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, const std::string& value) : LogField(key, absl::string_view(value)) {}
  LogField(absl::string_view key, const std::vector<std::string>& values);
  LogField(absl::string_view key, bool value);
  LogField(absl::string_view key, double value);
  template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>>
  LogField(absl::string_view key, Int value) : key_(key), json_(std::to_string(value)) {}

  // A value already rendered as JSON (an object or array built by the caller).
  static LogField Json(absl::string_view key, std::string json) {
    LogField field(key, true);
    field.json_ = std::move(json);
    return field;
  }

  const std::string& key() const { return key_; }
  const std::string& json() const { return json_; }

 private:
  std::string key_, json_;
};

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);
// The line Log writes for these arguments (no trailing newline).
std::string FormatLogLine(absl::Time time, LogLevel level, absl::string_view msg, const std::vector<LogField>& fields);

// Lines below `level` are dropped. Set once by main, before the service starts; default kInfo.
void SetMinLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Writes one line to stderr, whole (lines from concurrent threads never interleave).
void Log(LogLevel level, absl::string_view msg, const std::vector<LogField>& fields = {});
inline void LogDebug(absl::string_view msg, const std::vector<LogField>& fields = {}) {
  if (LogEnabled(LogLevel::kDebug)) Log(LogLevel::kDebug, msg, fields);
}
inline void LogInfo(absl::string_view msg, const std::vector<LogField>& fields = {}) {
  Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarning(absl::string_view msg, const std::vector<LogField>& fields = {}) {
  Log(LogLevel::kWarning, msg, fields);
}
inline void LogError(absl::string_view msg, const std::vector<LogField>& fields = {}) {
  Log(LogLevel::kError, msg, fields);
}

}  // namespace medgemma
