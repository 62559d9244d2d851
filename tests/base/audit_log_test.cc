// The audit log: one JSON object per line with its event and fields, a file that rotates by size
// keeping the configured number of old files (no line split or lost), and nothing written when off.
#include <absl/strings/str_cat.h>
#include <absl/time/clock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/audit_log.h"

namespace medgemma {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::vector<json> Lines(const fs::path& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

fs::path ScratchDir(const char* name) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("audit-", name, "-", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(AuditLogTest, WritesOneJsonObjectPerLine) {
  const fs::path dir = ScratchDir("lines");
  auto log = AuditLog::Open({(dir / "audit.log").string()});
  ASSERT_TRUE(log.ok()) << log.status();
  (*log)->Write("classify", {{"caller", "pacs"}, {"code", "OK"}, LogField::Json("results", R"([{"label":3}])")});
  (*log)->Write("action", {{"method", "/medgemma.v1.AdapterAdmin/LoadAdapter"}});
  const std::vector<json> lines = Lines(dir / "audit.log");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["event"], "classify");
  EXPECT_EQ(lines[0]["caller"], "pacs");
  EXPECT_EQ(lines[0]["results"][0]["label"], 3);
  EXPECT_TRUE(lines[0].contains("ts"));
  EXPECT_EQ(lines[1]["event"], "action");
  fs::remove_all(dir);
}

TEST(AuditLogTest, RotatesBySizeKeepingTheConfiguredFiles) {
  const fs::path dir = ScratchDir("rotate");
  const std::string path = (dir / "audit.log").string();
  auto log = AuditLog::Open({path, 4096, 2});
  ASSERT_TRUE(log.ok()) << log.status();
  const std::string padding(200, 'x');
  for (int i = 0; i < 100; ++i) (*log)->Write("classify", {{"i", i}, {"pad", padding}});
  EXPECT_TRUE(fs::exists(path + ".1"));
  EXPECT_TRUE(fs::exists(path + ".2"));
  EXPECT_FALSE(fs::exists(path + ".3"));
  std::vector<int64_t> kept;  // oldest file first
  for (const std::string& file : {path + ".2", path + ".1", path}) {
    EXPECT_LE(fs::file_size(file), 4096u) << file;
    for (const json& line : Lines(file)) kept.push_back(line["i"].get<int64_t>());
  }
  ASSERT_GT(kept.size(), 10u);
  EXPECT_EQ(kept.back(), 99);
  for (size_t k = 1; k < kept.size(); ++k) EXPECT_EQ(kept[k], kept[k - 1] + 1) << "in order, none lost in the files kept";
  fs::remove_all(dir);
}

TEST(AuditLogTest, AFailedRotationFallsBackToStderrWithoutClosingItAndReopensTheFile) {
  const fs::path dir = ScratchDir("fallback");
  const std::string path = (dir / "audit.log").string();
  AuditLogOptions options{path, 4096, 2};
  options.reopen_after = absl::Milliseconds(50);
  auto log = AuditLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::string padding(200, 'x');
  testing::internal::CaptureStderr();
  fs::remove_all(dir);  // the next rotation can neither rename nor reopen
  for (int i = 0; i < 30; ++i) (*log)->Write("classify", {{"i", i}, {"pad", padding}});
  fs::create_directories(dir);
  absl::SleepFor(absl::Milliseconds(100));
  (*log)->Write("classify", {{"i", 1000}});  // past reopen_after: back in the file
  log->reset();
  std::fprintf(stderr, "stderr-still-open\n");
  std::fflush(stderr);
  const std::string captured = testing::internal::GetCapturedStderr();
  EXPECT_NE(captured.find("\"i\":29"), std::string::npos) << "lines go to stderr meanwhile";
  EXPECT_NE(captured.find("stderr-still-open"), std::string::npos) << "the audit log closed stderr";
  const std::vector<json> lines = Lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["i"], 1000);
  fs::remove_all(dir);
}

TEST(AuditLogTest, OffWritesNothingAndBadLimitsAreRefused) {
  auto off = AuditLog::Open({});
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE((*off)->enabled());
  (*off)->Write("classify", {{"caller", "x"}});  // no file, no crash
  EXPECT_EQ(AuditLog::Open({"/tmp/a.log", 10, 5}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AuditLog::Open({"/tmp/a.log", 1 << 20, 0}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(AuditLog::Open({"/no/such/dir/audit.log"}).ok());
}

}  // namespace
}  // namespace medgemma
