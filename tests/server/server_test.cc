// medgemma-server end to end on 127.0.0.1: batching, hot-swap under load, bad input, deadlines,
// auth, TLS and draining. Every load is bounded in count and time.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "base/file_util.h"
#include "tests/server/server_fixture.h"

namespace medgemma::testing {
namespace {
using grpc::StatusCode;

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << what << " class " << i;
}

TEST(ServerTest, SixtyFourConcurrentClientsGetTheEngineAnswerInSharedBatches) {
  TempDir adapters;
  StartedServer s = StartServer(TestServerConfig(adapters.path()));
  ASSERT_TRUE(s.server);
  constexpr int kClients = 64;
  std::vector<std::string> images;
  std::vector<std::vector<float>> expected;
  for (int i = 0; i < kClients; ++i) {
    images.push_back(RandomPng(60 + i, 40 + i % 7, 1000 + i));
    expected.push_back(EngineProbabilities(*s.server, images.back(), ""));
  }
  std::vector<v1::ClassifyResponse> responses(kClients);
  std::vector<grpc::Status> statuses(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      statuses[i] = s.classifier->Classify(&context, EncodedRequest(std::to_string(i), images[i]), &responses[i]);
    });
  }
  for (auto& c : clients) c.join();
  int max_batch = 0;
  for (int i = 0; i < kClients; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(responses[i].request_id(), std::to_string(i));
    ExpectClose(ResponseProbabilities(responses[i]), expected[i], "client " + std::to_string(i));
    EXPECT_EQ(responses[i].probabilities_size(), 8);
    EXPECT_EQ(responses[i].model_id(), "tiny");
    EXPECT_GT(responses[i].timing().total_ms(), 0);
    max_batch = std::max(max_batch, responses[i].batch_size());
  }
  EXPECT_GT(max_batch, 1);
  const std::string metrics = ScrapeMetrics(s.server->metrics_port());
  const double batches = MetricValue(metrics, "medgemma_batch_size_count");
  const double batched_requests = MetricValue(metrics, "medgemma_batch_size_sum");
  EXPECT_EQ(batched_requests, 64 + 0.0);
  EXPECT_LT(batches, batched_requests);  // some batch held more than one request
  EXPECT_EQ(MetricValue(metrics, R"(medgemma_requests_total{adapter="base",code="OK"})"), 64);
}

TEST(ServerTest, HotSwapUnderLoadLosesNothingAndNeverMixesVersions) {
  TempDir adapters;
  WriteTestAdapters(adapters.path());
  StartedServer s = StartServer(TestServerConfig(adapters.path()));
  ASSERT_TRUE(s.server);
  const std::string png = RandomPng(70, 46, 7);
  std::map<std::string, std::vector<float>> by_version;  // adapter version -> expected probabilities
  by_version[""] = EngineProbabilities(*s.server, png, "");
  for (const std::string name : {"a1", "a2", "a3"}) {
    by_version[(*s.server->registry().Resolve(name))->adapter->version()] = EngineProbabilities(*s.server, png, name);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, mismatched{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      for (int n = 0; n < 400 && !stop; ++n) {
        grpc::ClientContext context;
        v1::ClassifyResponse response;
        const grpc::Status status = s.classifier->Classify(&context, EncodedRequest("x", png), &response);
        if (!status.ok()) {
          ++failed;
          continue;
        }
        ++ok;
        auto it = by_version.find(response.adapter_version());
        const auto got = ResponseProbabilities(response);
        bool same = it != by_version.end();
        for (size_t i = 0; same && i < got.size(); ++i) same = std::abs(got[i] - it->second[i]) < 1e-5;
        if (!same) ++mismatched;
      }
    });
  }
  const std::vector<std::string> order = {"a1", "a2", "a3", "a2", "a1", "a3", "a1", "a2", "a3", ""};
  for (const auto& name : order) {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    grpc::ClientContext context;
    v1::SetDefaultAdapterRequest request;
    request.set_name(name);
    v1::AdapterInfo info;
    ASSERT_TRUE(s.admin->SetDefaultAdapter(&context, request, &info).ok());
  }
  // A reload of a1 from the same files publishes a new handle of the same version.
  grpc::ClientContext reload_context;
  v1::LoadAdapterRequest reload;
  reload.set_name("a1");
  reload.set_path((adapters.path() / "a1").string());
  reload.set_set_default(true);
  v1::AdapterInfo reloaded;
  ASSERT_TRUE(s.admin->LoadAdapter(&reload_context, reload, &reloaded).ok());
  EXPECT_TRUE(reloaded.is_default());
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(mismatched.load(), 0);
  EXPECT_GT(ok.load(), 20);
}

TEST(ServerTest, BadInputGetsTheRightCodeAndTheServerKeepsServing) {
  TempDir adapters;
  server::ServerConfig config = TestServerConfig(adapters.path());
  config.max_message_bytes = 1 << 20;
  StartedServer s = StartServer(config);
  ASSERT_TRUE(s.server);
  const std::string png = RandomPng(50, 40, 3);
  std::string huge_header = png.substr(0, 33);
  const unsigned char big[8] = {0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60};
  std::memcpy(huge_header.data() + 16, big, 8);
  std::mt19937 rng(5);
  std::string random_bytes(4096, '\0');
  for (char& c : random_bytes) c = static_cast<char>(rng());
  v1::ClassifyRequest wrong_raw;
  wrong_raw.mutable_image()->mutable_raw()->set_width(10);
  wrong_raw.mutable_image()->mutable_raw()->set_height(10);
  wrong_raw.mutable_image()->mutable_raw()->set_rgb(std::string(299, '\1'));
  struct Case {
    const char* what;
    v1::ClassifyRequest request;
    StatusCode code;
    const char* message;
  } cases[] = {
      {"truncated PNG", EncodedRequest("t", png.substr(0, png.size() / 2)), StatusCode::INVALID_ARGUMENT, "PNG"},
      {"random bytes", EncodedRequest("r", random_bytes), StatusCode::INVALID_ARGUMENT, "unsupported"},
      {"empty image", EncodedRequest("e", ""), StatusCode::INVALID_ARGUMENT, "empty"},
      {"no image", v1::ClassifyRequest(), StatusCode::INVALID_ARGUMENT, "no image"},
      {"60000x60000", EncodedRequest("h", huge_header), StatusCode::INVALID_ARGUMENT, "pixels"},
      {"wrong raw size", wrong_raw, StatusCode::INVALID_ARGUMENT, "needs 300 RGB bytes"},
      {"unknown adapter", EncodedRequest("u", png, "nope"), StatusCode::NOT_FOUND, "nope"},
      {"oversize message", EncodedRequest("o", std::string(2 << 20, 'x')), StatusCode::RESOURCE_EXHAUSTED, ""},
  };
  for (const auto& c : cases) {
    grpc::ClientContext context;
    v1::ClassifyResponse response;
    const grpc::Status status = s.classifier->Classify(&context, c.request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message), std::string::npos) << c.what << ": " << status.error_message();
    grpc::ClientContext after;
    EXPECT_TRUE(s.classifier->Classify(&after, EncodedRequest("ok", png), &response).ok()) << "after " << c.what;
  }
}

TEST(ServerTest, ExpiredRequestsNeverReachTheModel) {
  TempDir adapters;
  server::ServerConfig config = TestServerConfig(adapters.path());
  config.batching.max_queue_delay_us = 50000;
  StartedServer s = StartServer(config);
  ASSERT_TRUE(s.server);
  const std::string png = RandomPng(64, 64, 9);
  std::atomic<int> ok{0}, expired{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      for (int n = 0; n < 6; ++n) {
        grpc::ClientContext context;
        // Every other client asks for an answer within 1 ms, which the queue delay alone exceeds.
        const bool tight = c % 2 == 1;
        context.set_deadline(std::chrono::system_clock::now() +
                             (tight ? std::chrono::milliseconds(1) : std::chrono::milliseconds(30000)));
        v1::ClassifyResponse response;
        const grpc::Status status = s.classifier->Classify(&context, EncodedRequest("d", png), &response);
        if (status.ok()) {
          ++ok;
        } else {
          EXPECT_EQ(status.error_code(), StatusCode::DEADLINE_EXCEEDED) << status.error_message();
          EXPECT_TRUE(tight);
          ++expired;
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 48);
  EXPECT_EQ(expired.load(), 48);
  // The model ran exactly the requests that were answered, plus nothing else.
  EXPECT_EQ(s.server->batcher().executed_requests(), 48);
}

TEST(ServerTest, ConfiguredButEmptyTokensRefuseToStartInsteadOfFailingOpen) {
  TempDir adapters;
  const std::string tokens = (adapters.path() / "tokens").string();
  ASSERT_TRUE(WriteStringAtomically(tokens, "# classify some-token-123\n\n   # admin x\n").ok());
  server::ServerConfig config = TestServerConfig(adapters.path());
  config.auth_tokens_file = tokens;
  auto started = server::ClassifierServer::Start(config);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(started.status().message().find("hold no token"), std::string::npos) << started.status();
  config.auth_tokens_file.clear();
  config.auth_tokens_env = "MEDGEMMA_TEST_EMPTY_TOKENS";
  ::setenv("MEDGEMMA_TEST_EMPTY_TOKENS", "", 1);
  started = server::ClassifierServer::Start(config);
  ::unsetenv("MEDGEMMA_TEST_EMPTY_TOKENS");
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ServerTest, TokensAndRoles) {
  TempDir adapters;
  const std::string tokens = (adapters.path() / "tokens").string();
  ASSERT_TRUE(WriteStringAtomically(tokens, "classify reader-token-123\nadmin admin-token-456\n").ok());
  WriteTestAdapters(adapters.path());
  server::ServerConfig config = TestServerConfig(adapters.path());
  config.auth_tokens_file = tokens;
  StartedServer s = StartServer(config);
  ASSERT_TRUE(s.server);
  const std::string png = RandomPng(30, 30, 1);
  auto classify = [&](const std::string& token) {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::ClassifyResponse response;
    return s.classifier->Classify(&context, EncodedRequest("a", png), &response).error_code();
  };
  auto list = [&](const std::string& token) {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::ListAdaptersResponse response;
    return s.admin->ListAdapters(&context, v1::ListAdaptersRequest(), &response).error_code();
  };
  EXPECT_EQ(classify(""), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(classify("wrong-token-000"), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(classify("reader-token-123"), StatusCode::OK);
  EXPECT_EQ(classify("admin-token-456"), StatusCode::OK);
  EXPECT_EQ(list(""), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(list("reader-token-123"), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(list("admin-token-456"), StatusCode::OK);
  // Adapter paths on the server's disk are shown to the admin role only.
  auto adapter_paths = [&](const std::string& token) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::ModelInfo info;
    EXPECT_TRUE(s.classifier->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
    EXPECT_EQ(info.adapters_size(), 3);
    std::string paths;
    for (const auto& adapter : info.adapters()) paths += adapter.path();
    return paths;
  };
  EXPECT_EQ(adapter_paths("reader-token-123"), "");
  EXPECT_NE(adapter_paths("admin-token-456").find(adapters.path().string()), std::string::npos);
}

TEST(ServerTest, AdapterAdminRefusesBadAdaptersAndKeepsServing) {
  TempDir adapters;
  auto paths = WriteTestAdapters(adapters.path());
  StartedServer s = StartServer(TestServerConfig(adapters.path()));
  ASSERT_TRUE(s.server);
  // Corrupt a copy of a2: truncated weights.
  const auto broken = adapters.path() / "broken";
  std::filesystem::create_directories(broken);
  std::filesystem::copy_file(adapters.path() / "a2" / "adapter_config.json", broken / "adapter_config.json");
  const std::string weights = *ReadFileToString(adapters.path() / "a2" / "adapter_model.safetensors");
  ASSERT_TRUE(WriteStringAtomically(broken / "adapter_model.safetensors", weights.substr(0, weights.size() / 2)).ok());
  auto load = [&](const std::string& name, const std::string& path) {
    grpc::ClientContext context;
    v1::LoadAdapterRequest request;
    request.set_name(name);
    request.set_path(path);
    request.set_set_default(true);
    v1::AdapterInfo info;
    return s.admin->LoadAdapter(&context, request, &info);
  };
  ASSERT_TRUE(load("a2", paths["a2"]).ok());
  EXPECT_EQ(load("a2", broken.string()).error_code(), StatusCode::DATA_LOSS);
  EXPECT_EQ(load("x", "/etc").error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(load("bad name!", paths["a1"]).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.server->registry().default_name(), "a2");
  const std::string expected_version = (*s.server->registry().Resolve("a2"))->adapter->version();
  grpc::ClientContext context;
  v1::ClassifyResponse response;
  ASSERT_TRUE(s.classifier->Classify(&context, EncodedRequest("r", RandomPng(40, 40, 2)), &response).ok());
  EXPECT_EQ(response.adapter(), "a2");
  EXPECT_EQ(response.adapter_version(), expected_version);
  grpc::ClientContext unload_context;
  v1::UnloadAdapterRequest unload;
  unload.set_name("a2");
  v1::UnloadAdapterResponse unloaded;
  EXPECT_EQ(s.admin->UnloadAdapter(&unload_context, unload, &unloaded).error_code(), StatusCode::FAILED_PRECONDITION);
}

// Writes a CA, a server certificate for 127.0.0.1 / localhost and a client certificate with openssl.
void MakeCertificates(const std::filesystem::path& d) {
  const std::string dir = d.string();
  const std::string script =
      "set -e; cd " + dir + "; "
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null; "
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext; "
      "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null; "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem 2>/dev/null; "
      "openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout client.key -out client.csr 2>/dev/null; "
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem 2>/dev/null";
  ASSERT_EQ(std::system(("bash -c \"" + script + "\"").c_str()), 0);
}

TEST(ServerTest, TlsAndMutualTls) {
  TempDir dir;
  MakeCertificates(dir.path());
  const auto p = [&](const char* f) { return (dir.path() / f).string(); };
  server::ServerConfig config = TestServerConfig(dir.path());
  config.tls = {p("server.pem"), p("server.key"), ""};
  auto tls_client = rpc::MakeChannelCredentials({"", "", p("ca.pem")});
  ASSERT_TRUE(tls_client.ok());
  StartedServer s = StartServer(config, *tls_client, "localhost");
  ASSERT_TRUE(s.server);
  const std::string png = RandomPng(30, 30, 4);
  {
    grpc::ClientContext context;
    v1::ClassifyResponse response;
    EXPECT_TRUE(s.classifier->Classify(&context, EncodedRequest("tls", png), &response).ok());
  }
  {
    auto plain = v1::Classifier::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(s.server->port()),
                                                             grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ClassifyResponse response;
    EXPECT_EQ(plain->Classify(&context, EncodedRequest("plain", png), &response).error_code(), StatusCode::UNAVAILABLE);
  }
  s.server.reset();

  config.tls.ca = p("ca.pem");  // now client certificates are required
  StartedServer m = StartServer(config, *tls_client, "localhost");
  ASSERT_TRUE(m.server);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ClassifyResponse response;
    EXPECT_FALSE(m.classifier->Classify(&context, EncodedRequest("no-cert", png), &response).ok());
  }
  auto mtls_client = rpc::MakeChannelCredentials({p("client.pem"), p("client.key"), p("ca.pem")});
  auto stub = v1::Classifier::NewStub(grpc::CreateChannel("localhost:" + std::to_string(m.server->port()), *mtls_client));
  grpc::ClientContext context;
  v1::ClassifyResponse response;
  EXPECT_TRUE(stub->Classify(&context, EncodedRequest("mtls", png), &response).ok());
}

TEST(ServerTest, ShutdownDrainsAcceptedRequests) {
  TempDir adapters;
  server::ServerConfig config = TestServerConfig(adapters.path());
  config.batching.max_queue_delay_us = 300000;  // requests sit in the queue when shutdown starts
  StartedServer s = StartServer(config);
  ASSERT_TRUE(s.server);
  const std::string png = RandomPng(30, 30, 8);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back([&] {
      grpc::ClientContext context;
      v1::ClassifyResponse response;
      if (s.classifier->Classify(&context, EncodedRequest("s", png), &response).ok()) ++ok;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  s.server->Shutdown(std::chrono::seconds(10));
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 5);
}

}  // namespace
}  // namespace medgemma::testing
