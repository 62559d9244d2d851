// Regression tests for adapters a hostile client or a careless operator hands LoadAdapter: files
// that are not regular files, files over the size bound, symlinks out of the adapter roots,
// NaN/Inf or integer weights, absurd scaling and a config nested past any stack. Each is refused with a clear code, quickly, and the
// server keeps answering with finite probabilities afterwards.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "base/file_util.h"
#include "engine/safetensors.h"
#include "tests/server/server_fixture.h"

namespace medgemma::testing {
namespace {
namespace fs = std::filesystem;
using grpc::StatusCode;

constexpr char kWeights[] = "adapter_model.safetensors";
constexpr char kConfig[] = "adapter_config.json";

class AdapterSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    paths_ = WriteTestAdapters(adapters_.path());
    s_ = StartServer(TestServerConfig(adapters_.path()));
    ASSERT_TRUE(s_.server);
  }

  // A copy of adapter a1 under the adapters dir, to be spoiled by the test.
  fs::path CopyOfA1(const std::string& name) {
    const fs::path dir = adapters_.path() / name;
    fs::create_directories(dir);
    fs::copy_file(fs::path(paths_["a1"]) / kConfig, dir / kConfig);
    fs::copy_file(fs::path(paths_["a1"]) / kWeights, dir / kWeights);
    return dir;
  }

  grpc::Status Load(const std::string& name, const fs::path& path) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::LoadAdapterRequest request;
    request.set_name(name);
    request.set_path(path.string());
    v1::AdapterInfo info;
    return s_.admin->LoadAdapter(&context, request, &info);
  }

  // The server still answers, with probabilities that are finite and sum to one.
  void ExpectServing() {
    grpc::ClientContext context;
    v1::ClassifyResponse response;
    ASSERT_TRUE(s_.classifier->Classify(&context, EncodedRequest("r", RandomPng(40, 40, 3)), &response).ok());
    double sum = 0;
    for (float p : ResponseProbabilities(response)) {
      ASSERT_TRUE(std::isfinite(p));
      sum += p;
    }
    EXPECT_NEAR(sum, 1.0, 1e-4);
  }

  // Rewrites a1's weights in `dir` through `spoil`, keeping names and shapes.
  void RewriteWeights(const fs::path& dir, const std::function<torch::Tensor(torch::Tensor)>& spoil) {
    auto file = SafetensorsFile::Open(dir / kWeights);
    ASSERT_TRUE(file.ok()) << file.status();
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& [name, info] : file->tensors()) {
      tensors.emplace_back(name, spoil(file->Load(name, torch::kCPU, torch::kFloat)->clone()));
    }
    ASSERT_TRUE(WriteSafetensors(dir / kWeights, tensors, {{"format", "pt"}}).ok());
  }

  TempDir adapters_;
  std::map<std::string, std::string> paths_;
  StartedServer s_;
};

TEST_F(AdapterSafetyTest, FifoInsteadOfWeightsIsRefusedWithoutBlocking) {
  const fs::path dir = CopyOfA1("fifo");
  fs::remove(dir / kWeights);
  ASSERT_EQ(::mkfifo((dir / kWeights).c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = Load("fifo", dir);
  EXPECT_EQ(status.error_code(), StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_NE(status.error_message().find("not a regular file"), std::string::npos) << status.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ExpectServing();
}

TEST_F(AdapterSafetyTest, WeightsOverTheSizeBoundAreRefusedBeforeReading) {
  const fs::path dir = CopyOfA1("huge");
  // Sparse: 5 GiB of size, no blocks on disk.
  ASSERT_EQ(::truncate((dir / kWeights).c_str(), off_t{5} << 30), 0);
  const grpc::Status status = Load("huge", dir);
  EXPECT_EQ(status.error_code(), StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  ExpectServing();
}

TEST_F(AdapterSafetyTest, FileSymlinkOutOfTheRootsIsRefused) {
  TempDir outside;
  fs::copy_file(fs::path(paths_["a2"]) / kWeights, outside.path() / kWeights);
  const fs::path dir = CopyOfA1("escape");
  fs::remove(dir / kWeights);
  fs::create_symlink(outside.path() / kWeights, dir / kWeights);
  EXPECT_EQ(Load("escape", dir).error_code(), StatusCode::PERMISSION_DENIED);
  fs::remove(dir / kWeights);
  fs::create_symlink("/dev/zero", dir / kWeights);
  EXPECT_EQ(Load("escape", dir).error_code(), StatusCode::PERMISSION_DENIED);
  ExpectServing();
}

TEST_F(AdapterSafetyTest, NonFiniteWeightsAreRefused) {
  for (const float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
    const fs::path dir = CopyOfA1(std::isnan(bad) ? "nan" : "inf");
    RewriteWeights(dir, [&](torch::Tensor t) {
      t.view(-1)[0] = bad;
      return t;
    });
    const grpc::Status status = Load(dir.filename().string(), dir);
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find("NaN or infinite"), std::string::npos) << status.error_message();
  }
  ExpectServing();
}

TEST_F(AdapterSafetyTest, IntegerWeightsAreRefused) {
  const fs::path dir = CopyOfA1("int");
  RewriteWeights(dir, [](torch::Tensor t) { return t.to(torch::kInt); });
  const grpc::Status status = Load("int", dir);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("floating point"), std::string::npos) << status.error_message();
  ExpectServing();
}

TEST_F(AdapterSafetyTest, AbsurdScalingIsRefused) {
  for (const std::string alpha : {"1e38", "1e300", "-4"}) {
    const fs::path dir = CopyOfA1("alpha");
    std::string config = *ReadFileToString(dir / kConfig);
    const size_t at = config.find("\"lora_alpha\"");
    ASSERT_NE(at, std::string::npos);
    const size_t end = config.find_first_of(",}", at);
    config.replace(at, end - at, "\"lora_alpha\": " + alpha);
    ASSERT_TRUE(WriteStringAtomically(dir / kConfig, config).ok());
    const grpc::Status status = Load("alpha", dir);
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << alpha << ": " << status.error_message();
    RemoveTree(dir);
  }
  ExpectServing();
}

TEST_F(AdapterSafetyTest, DeeplyNestedConfigIsInvalidArgument) {
  const fs::path dir = CopyOfA1("deep");
  ASSERT_TRUE(WriteStringAtomically(dir / kConfig, std::string(100000, '[') + std::string(100000, ']')).ok());
  const grpc::Status status = Load("deep", dir);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("adapter_config.json: nesting deeper than 64 levels"), std::string::npos)
      << status.error_message();
  ExpectServing();
}

TEST_F(AdapterSafetyTest, HugeNamesAndPathsComeBackAsTheRealErrorWithAShortMessage) {
  // Echoed whole, 100 KB would overflow the client's 8 KiB metadata limit (RESOURCE_EXHAUSTED).
  const std::string long_path = adapters_.path().string() + "/" + std::string(100000, 'x');
  grpc::Status status = Load("fine", long_path);
  // Refused for what it is (outside the roots once unresolvable, or not found), never for its size.
  EXPECT_TRUE(status.error_code() == StatusCode::PERMISSION_DENIED || status.error_code() == StatusCode::NOT_FOUND)
      << status.error_code() << " " << status.error_message().substr(0, 200);
  EXPECT_LE(status.error_message().size(), 1024u);
  status = Load(std::string(100000, 'n'), paths_["a1"]);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(status.error_message().size(), 1024u);
  ExpectServing();
}

}  // namespace
}  // namespace medgemma::testing
