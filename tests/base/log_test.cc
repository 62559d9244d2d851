// The JSON-lines logger: every line parses as JSON whatever the strings hold (quotes, control
// characters, invalid UTF-8), carries an RFC 3339 UTC timestamp with milliseconds, and debug lines
// stay off until the level is lowered.
#include <absl/time/civil_time.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/log.h"

namespace medgemma {
namespace {
using json = nlohmann::json;

absl::Time Fixed() {
  return absl::FromCivil(absl::CivilSecond(2026, 1, 2, 3, 4, 5), absl::UTCTimeZone()) + absl::Milliseconds(67);
}

TEST(LogTest, LineIsOneJsonObjectWithTimestampLevelMessageAndFields) {
  const std::string line =
      FormatLogLine(Fixed(), LogLevel::kWarning, "adapter loaded",
                    {{"name", "a1"}, {"version", std::string("abc")}, {"tokens", 3}, {"ratio", 0.5}, {"tls", false},
                     {"roots", std::vector<std::string>{"/a", "/b"}}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const json parsed = json::parse(line);
  EXPECT_EQ(parsed["ts"], "2026-01-02T03:04:05.067Z");
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["msg"], "adapter loaded");
  EXPECT_EQ(parsed["name"], "a1");
  EXPECT_EQ(parsed["version"], "abc");
  EXPECT_EQ(parsed["tokens"], 3);
  EXPECT_EQ(parsed["ratio"], 0.5);
  EXPECT_EQ(parsed["tls"], false);
  EXPECT_EQ(parsed["roots"], json::array({"/a", "/b"}));
  // Keys keep their order: ts, level, msg first, then the fields as given.
  EXPECT_EQ(line.rfind("{\"ts\":", 0), 0u);
  EXPECT_LT(line.find("\"name\""), line.find("\"roots\""));
}

TEST(LogTest, HostileStringsStillMakeValidJson) {
  const std::string nasty = std::string("quote\" backslash\\ newline\n tab\t bell\x07 nul") + '\0' + " end";
  const std::string invalid_utf8 = "caf\xC3 \xFF\xFE \xED\xA0\x80 ok \xC3\xA9";  // truncated, bytes, surrogate, valid é
  const std::string line = FormatLogLine(Fixed(), LogLevel::kInfo, nasty, {{"path", invalid_utf8}, {nasty, "k"}});
  const json parsed = json::parse(line);  // throws on invalid JSON or UTF-8
  EXPECT_EQ(parsed["msg"], nasty);
  EXPECT_EQ(parsed[nasty], "k");
  const std::string path = parsed["path"];
  EXPECT_NE(path.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD stands in for the bad bytes
  EXPECT_NE(path.find(" ok \xC3\xA9"), std::string::npos);  // valid text is kept
  EXPECT_EQ(line.find('\x07'), std::string::npos);           // control characters are escaped
}

TEST(LogTest, NonFiniteNumbersBecomeNull) {
  const json parsed = json::parse(FormatLogLine(Fixed(), LogLevel::kError, "m", {{"x", std::nan("")}}));
  EXPECT_TRUE(parsed["x"].is_null());
  EXPECT_EQ(parsed["level"], "error");
}

TEST(LogTest, LevelsParseAndDebugIsOffByDefault) {
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  EXPECT_TRUE(LogEnabled(LogLevel::kInfo));
  for (const char* name : {"debug", "info", "warning", "error"}) {
    auto level = ParseLogLevel(name);
    ASSERT_TRUE(level.ok()) << name;
    EXPECT_EQ(LogLevelName(*level), name);
  }
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
  SetMinLogLevel(LogLevel::kDebug);
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
  SetMinLogLevel(LogLevel::kError);
  EXPECT_FALSE(LogEnabled(LogLevel::kWarning));
  SetMinLogLevel(LogLevel::kInfo);
}

}  // namespace
}  // namespace medgemma
