// The bound on bytes held by requests in flight: one fast stream of large images is throttled by
// not reading it (every request still answered), and concurrent callers over the global bound get
// RESOURCE_EXHAUSTED instead of growing the server's memory; nothing leaks from the budget.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <thread>

#include "tests/server/server_fixture.h"

namespace medgemma::testing {
namespace {
using grpc::StatusCode;

// A raw RGB request of width x height (noise, so no two are alike).
v1::ClassifyRequest RawRequest(const std::string& id, int width, int height, uint32_t seed) {
  std::mt19937 random(seed);
  std::string rgb(static_cast<size_t>(width) * height * 3, '\0');
  for (char& c : rgb) c = static_cast<char>(random() & 0xff);
  v1::ClassifyRequest r;
  r.set_request_id(id);
  auto* raw = r.mutable_image()->mutable_raw();
  raw->set_width(width);
  raw->set_height(height);
  raw->set_rgb(std::move(rgb));
  return r;
}

TEST(InflightBytesTest, AFastStreamOfLargeImagesIsThrottledAndEveryRequestAnswered) {
  TempDir adapters;
  server::ServerConfig config = TestServerConfig(adapters.path());
  config.max_stream_inflight_bytes = 8 << 20;
  StartedServer s = StartServer(config);
  ASSERT_TRUE(s.server);
  const int count = 30;
  std::vector<v1::ClassifyRequest> requests;
  for (int i = 0; i < count; ++i) requests.push_back(RawRequest("r" + std::to_string(i), 1200, 1000, i));
  const int64_t one = s.server->pipeline().RequestBytes(requests[0]);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(3));
  auto stream = s.classifier->ClassifyStream(&context);
  std::thread writer([&] {
    for (const auto& r : requests) ASSERT_TRUE(stream->Write(r));
    stream->WritesDone();
  });
  std::set<std::string> answered;
  v1::ClassifyResponse response;
  while (stream->Read(&response)) {
    EXPECT_FALSE(response.has_error()) << response.error().message();
    answered.insert(response.request_id());
  }
  writer.join();
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answered.size(), static_cast<size_t>(count));
  // Reading stops at the limit, so at most the limit plus the request read last are held.
  EXPECT_LE(s.server->pipeline().inflight().peak(), config.max_stream_inflight_bytes + one);
  EXPECT_EQ(s.server->pipeline().inflight().in_use(), 0);
}

TEST(InflightBytesTest, CallersOverTheGlobalBoundAreRefusedAndTheBudgetDrains) {
  TempDir adapters;
  server::ServerConfig config = TestServerConfig(adapters.path());
  config.max_inflight_bytes = 8 << 20;
  StartedServer s = StartServer(config);
  ASSERT_TRUE(s.server);
  const v1::ClassifyRequest request = RawRequest("big", 1200, 1000, 1);
  std::vector<std::thread> callers;
  std::atomic<int> ok{0}, refused{0}, other{0};
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&] {
      grpc::ClientContext context;
      v1::ClassifyResponse response;
      const grpc::Status status = s.classifier->Classify(&context, request, &response);
      if (status.ok()) {
        ++ok;
      } else if (status.error_code() == StatusCode::RESOURCE_EXHAUSTED &&
                 status.error_message().find("in flight") != std::string::npos) {
        ++refused;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(other, 0);
  EXPECT_GE(ok, 1);
  EXPECT_EQ(ok + refused, 16);
  EXPECT_LE(s.server->pipeline().inflight().peak(), config.max_inflight_bytes);
  EXPECT_EQ(s.server->pipeline().inflight().in_use(), 0);
}

}  // namespace
}  // namespace medgemma::testing
