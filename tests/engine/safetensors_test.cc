#include "engine/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "base/file_util.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {
using testing::TempDir;

std::string WithHeader(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

absl::Status OpenBytes(const TempDir& dir, const std::string& bytes) {
  const auto path = dir.path() / "t.safetensors";
  EXPECT_TRUE(WriteStringAtomically(path, bytes).ok());
  return SafetensorsFile::Open(path).status();
}

TEST(SafetensorsTest, RoundTripsEveryDtype) {
  TempDir dir;
  std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"bf16", torch::randn({3, 5}).to(torch::kBFloat16)},
      {"f16", torch::randn({7}).to(torch::kHalf)},
      {"f32", torch::randn({2, 3, 4})},
      {"i64", torch::arange(10, torch::kLong)},
      {"bool", torch::rand({4}) > 0.5},
      {"scalar", torch::tensor(3.5f)},
      {"empty", torch::zeros({0, 4})},
  };
  ASSERT_TRUE(WriteSafetensors(dir.path() / "a.safetensors", tensors, {{"format", "pt"}}).ok());
  auto file = SafetensorsFile::Open(dir.path() / "a.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata().at("format"), "pt");
  for (const auto& [name, tensor] : tensors) {
    auto loaded = file->Load(name);
    ASSERT_TRUE(loaded.ok()) << name << loaded.status();
    EXPECT_EQ(loaded->scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(*loaded, tensor)) << name;
  }
  auto converted = file->Load("bf16", torch::kCPU, torch::kFloat);
  ASSERT_TRUE(converted.ok());
  EXPECT_EQ(converted->scalar_type(), torch::kFloat);
  EXPECT_FALSE(file->Load("missing").ok());
}

TEST(SafetensorsTest, TruncatedFileIsDataLossNotACrash) {
  TempDir dir;
  ASSERT_TRUE(WriteSafetensors(dir.path() / "a.safetensors", {{"w", torch::randn({64, 64})}}).ok());
  auto bytes = *ReadFileToString(dir.path() / "a.safetensors");
  for (size_t keep : {size_t{0}, size_t{4}, size_t{12}, bytes.size() / 2, bytes.size() - 1}) {
    const absl::Status st = OpenBytes(dir, bytes.substr(0, keep));
    EXPECT_FALSE(st.ok()) << "kept " << keep;
    EXPECT_TRUE(st.code() == absl::StatusCode::kDataLoss || st.code() == absl::StatusCode::kInvalidArgument) << st;
  }
}

TEST(SafetensorsTest, LyingHeadersAreRejectedWithTheTensorName) {
  TempDir dir;
  const std::string data(64, '\0');
  struct Case {
    const char* header;
    const char* expect;
  } cases[] = {
      {R"({"w":{"dtype":"F32","shape":[4,4],"data_offsets":[0,32]}})", "needs 64"},
      {R"({"w":{"dtype":"F32","shape":[4,4],"data_offsets":[0,640]}})", "outside"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", "outside"},
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", "overlap"},
      {R"({"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})", "F8_E4M3"},
      {R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "negative"},
      {R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", "overflow"},
      {R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "dtype"},
      {R"(not json)", "JSON"},
  };
  // nlohmann copies (and would recurse through) data_offsets; the parse refuses the depth instead.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string nested = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":)" + deep + "}}";
  const absl::Status too_deep = OpenBytes(dir, WithHeader(nested, data));
  EXPECT_EQ(too_deep.code(), absl::StatusCode::kInvalidArgument) << too_deep;
  EXPECT_NE(std::string(too_deep.message()).find("nesting deeper than 64 levels"), std::string::npos) << too_deep;
  for (const auto& c : cases) {
    const absl::Status st = OpenBytes(dir, WithHeader(c.header, data));
    EXPECT_FALSE(st.ok()) << c.header;
    EXPECT_NE(std::string(st.message()).find(c.expect), std::string::npos) << st << " for " << c.header;
  }
  const absl::Status huge = OpenBytes(dir, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}");
  EXPECT_EQ(huge.code(), absl::StatusCode::kDataLoss) << huge;
}

}  // namespace
}  // namespace medgemma
