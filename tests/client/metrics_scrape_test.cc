#include "client/metrics_scrape.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>

#include "client/http_get.h"
#include "client/server_window.h"

namespace medgemma::cli {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// What prometheus-cpp writes for a histogram with labels, plus the variations the format allows.
constexpr char kExposition[] = R"(# HELP http_latency_seconds Latency.
# TYPE http_latency_seconds histogram
http_latency_seconds_count{method="GET",path="/a"} 4
http_latency_seconds_sum{method="GET",path="/a"} 1.5
http_latency_seconds_bucket{method="GET",path="/a",le="0.1"} 1
http_latency_seconds_bucket{method="GET",path="/a",le="1"} 3
http_latency_seconds_bucket{method="GET",path="/a",le="+Inf"} 4
http_latency_seconds_count{method="POST",path="/a"} 2
http_latency_seconds_sum{method="POST",path="/a"} 0.25
http_latency_seconds_bucket{method="POST",path="/a",le="0.1"} 0
http_latency_seconds_bucket{method="POST",path="/a",le="1"} 2
http_latency_seconds_bucket{method="POST",path="/a",le="+Inf"} 2

# TYPE up gauge
up 1 1700000000000
weird_labels { a = "x\\y" , b="say \"hi\"\nbye", } -Inf
not_a_number NaN
# EOF
)";

TEST(ParsePrometheusText, SamplesWithLabelsEscapesAndTimestamps) {
  auto samples = ParsePrometheusText(kExposition);
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 13u);
  const MetricSample& first = (*samples)[0];
  EXPECT_EQ(first.name, "http_latency_seconds_count");
  EXPECT_EQ(first.labels, (MetricLabels{{"method", "GET"}, {"path", "/a"}}));
  EXPECT_EQ(first.value, 4);
  EXPECT_EQ((*samples)[4].labels.at("le"), "+Inf");
  EXPECT_EQ((*samples)[10].name, "up");
  EXPECT_EQ((*samples)[10].value, 1);  // the timestamp is dropped
  const MetricSample& weird = (*samples)[11];
  EXPECT_EQ(weird.labels.at("a"), "x\\y");
  EXPECT_EQ(weird.labels.at("b"), "say \"hi\"\nbye");
  EXPECT_EQ(weird.value, -kInf);
  EXPECT_TRUE(std::isnan((*samples)[12].value));
}

TEST(ParsePrometheusText, BraceAndCommaInsideAQuotedValueAreData) {
  auto samples = ParsePrometheusText("m{path=\"/x{1},y=\\\"z\\\"\"} 2\n");
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_EQ((*samples)[0].labels.at("path"), "/x{1},y=\"z\"");
  EXPECT_EQ((*samples)[0].value, 2);
}

TEST(ParsePrometheusText, MalformedLinesNameTheirLineNumber) {
  const std::pair<const char*, const char*> cases[] = {
      {"ok 1\nbad_no_value\n", "line 2"}, {"m{a=\"unterminated} 1\n", "unterminated"},
      {"m{a=1} 1\n", "expected '\"'"},    {"m{a=\"1\" b=\"2\"} 1\n", "expected ',' or '}'"},
      {"m{=\"1\"} 1\n", "label name"},    {"m 1 2 3\n", "line 1"},
      {"m one\n", "expected a value"},    {"m 1 not_a_timestamp\n", "expected a value"},
      {"{a=\"1\"} 1\n", "metric name"},
  };
  for (const auto& [text, message] : cases) {
    auto samples = ParsePrometheusText(text);
    ASSERT_FALSE(samples.ok()) << text;
    EXPECT_EQ(samples.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(samples.status().message().find(message), absl::string_view::npos) << samples.status();
  }
}

TEST(FindHistogram, SumsMatchingSeriesByBound) {
  auto samples = ParsePrometheusText(kExposition);
  ASSERT_TRUE(samples.ok());
  auto all = FindHistogram(*samples, "http_latency_seconds");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->count, 6);
  EXPECT_EQ(all->sum, 1.75);
  EXPECT_EQ(all->cumulative, (std::map<double, double>{{0.1, 1}, {1, 5}, {kInf, 6}}));
  auto post = FindHistogram(*samples, "http_latency_seconds", {{"method", "POST"}});
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(post->count, 2);
  EXPECT_EQ(post->sum, 0.25);
  EXPECT_EQ(post->cumulative.at(kInf), 2);
}

TEST(FindHistogram, MissingOrMalformed) {
  auto samples = ParsePrometheusText(kExposition);
  ASSERT_TRUE(samples.ok());
  EXPECT_EQ(FindHistogram(*samples, "nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FindHistogram(*samples, "http_latency_seconds", {{"method", "PUT"}}).status().code(),
            absl::StatusCode::kNotFound);
  auto bad = ParsePrometheusText("h_bucket{le=\"x\"} 1\nh_count 1\n");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(FindHistogram(*bad, "h").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HistogramDelta, SubtractsPerBound) {
  HistogramSnapshot before{{{1, 2}, {2, 3}, {kInf, 3}}, 4, 3};
  HistogramSnapshot after{{{1, 5}, {2, 9}, {kInf, 10}}, 20, 10};
  const HistogramSnapshot d = HistogramDelta(after, before);
  EXPECT_EQ(d.cumulative, (std::map<double, double>{{1, 3}, {2, 6}, {kInf, 7}}));
  EXPECT_EQ(d.sum, 16);
  EXPECT_EQ(d.count, 7);
}

std::string ServerExposition(double batches, double images, double le1, double le2, double le4, double seconds) {
  std::string text = "# TYPE medgemma_batch_size histogram\n";
  text += "medgemma_batch_size_count " + std::to_string(batches) + "\nmedgemma_batch_size_sum " +
          std::to_string(images) + "\n";
  text += "medgemma_batch_size_bucket{le=\"1\"} " + std::to_string(le1) + "\nmedgemma_batch_size_bucket{le=\"2\"} " +
          std::to_string(le2) + "\nmedgemma_batch_size_bucket{le=\"4\"} " + std::to_string(le4) +
          "\nmedgemma_batch_size_bucket{le=\"+Inf\"} " + std::to_string(batches) + "\n";
  for (const char* name :
       {"medgemma_queue_wait_seconds", "medgemma_preprocess_seconds", "medgemma_request_duration_seconds"}) {
    text += std::string(name) + "_count " + std::to_string(images) + "\n" + name + "_sum " + std::to_string(seconds) +
            "\n" + name + "_bucket{le=\"+Inf\"} " + std::to_string(images) + "\n";
  }
  text += "medgemma_inference_seconds_count " + std::to_string(batches) + "\nmedgemma_inference_seconds_sum " +
          std::to_string(seconds) + "\nmedgemma_inference_seconds_bucket{le=\"+Inf\"} " + std::to_string(batches) +
          "\n";
  return text;
}

TEST(ServerWindow, DeltasBetweenTwoScrapes) {
  // Before: 2 batches of 1. After: 2 more of 1, 1 of 2 and 3 of 4 (16 images in 6 new batches).
  auto before = ReadServerHistograms(*ParsePrometheusText(ServerExposition(2, 2, 2, 2, 2, 0.5)));
  auto after = ReadServerHistograms(*ParsePrometheusText(ServerExposition(8, 18, 4, 5, 8, 2.2)));
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(after.ok()) << after.status();
  const ServerWindow w = WindowBetween(*before, *after);
  EXPECT_EQ(w.batches, 6);
  EXPECT_EQ(w.images, 16);
  ASSERT_EQ(w.batch_sizes.size(), 4u);
  EXPECT_EQ(w.batch_sizes[0], std::make_pair(1.0, 2.0));
  EXPECT_EQ(w.batch_sizes[1], std::make_pair(2.0, 1.0));
  EXPECT_EQ(w.batch_sizes[2], std::make_pair(4.0, 3.0));
  EXPECT_EQ(w.batch_sizes[3], std::make_pair(kInf, 0.0));
  EXPECT_NEAR(*w.batch_size_mean, 16.0 / 6, 1e-9);
  EXPECT_NEAR(*w.queue_ms_mean, 1700.0 / 16, 1e-6);     // per image
  EXPECT_NEAR(*w.inference_ms_mean, 1700.0 / 6, 1e-6);  // per batch
}

TEST(ServerWindow, NothingObservedLeavesMeansEmpty) {
  auto same = ReadServerHistograms(*ParsePrometheusText(ServerExposition(3, 3, 3, 3, 3, 0.1)));
  ASSERT_TRUE(same.ok());
  const ServerWindow w = WindowBetween(*same, *same);
  EXPECT_EQ(w.batches, 0);
  EXPECT_FALSE(w.batch_size_mean.has_value());
  EXPECT_FALSE(w.queue_ms_mean.has_value());
  EXPECT_FALSE(w.inference_ms_mean.has_value());
}

TEST(ServerWindow, NotAMedgemmaServer) {
  auto samples = ParsePrometheusText(kExposition);
  ASSERT_TRUE(samples.ok());
  EXPECT_EQ(ReadServerHistograms(*samples).status().code(), absl::StatusCode::kNotFound);
}

TEST(ParseMetricsUrl, FormsAndRefusals) {
  auto full = ParseMetricsUrl("http://127.0.0.1:9500/metrics");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->host, "127.0.0.1");
  EXPECT_EQ(full->port, "9500");
  EXPECT_EQ(full->path, "/metrics");
  auto bare = ParseMetricsUrl("localhost:9100");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->path, "/metrics");
  EXPECT_EQ(bare->ToString(), "http://localhost:9100/metrics");
  auto v6 = ParseMetricsUrl("http://[::1]:9500/m");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->path, "/m");
  EXPECT_EQ(v6->ToString(), "http://[::1]:9500/m");
  for (const char* bad : {"https://h:1/metrics", "http://h/metrics", "http://:9500", "h:0", "h:70000", "h:x",
                          "http://[::1/metrics", "[::1]9500"}) {
    auto parsed = ParseMetricsUrl(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

// A one-connection HTTP server on 127.0.0.1 that answers the first request with `response`
// (or, with an empty response, accepts nothing: the client's connect succeeds through the backlog
// and its read waits).
class CannedServer {
 public:
  explicit CannedServer(std::string response) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (response.empty()) return;
    thread_ = std::thread([this, response] {
      const int conn = accept(fd_, nullptr, nullptr);
      std::string request;
      char buffer[1024];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = recv(conn, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      request_ = request;
      send(conn, response.data(), response.size(), MSG_NOSIGNAL);
      close(conn);
    });
  }
  ~CannedServer() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  HttpEndpoint endpoint() const { return {"127.0.0.1", std::to_string(port_), "/metrics"}; }
  // What the client sent; read after HttpGet returned.
  std::string request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_;
};

TEST(HttpGet, ReturnsTheBodyOfA200) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nup 1\n");
  auto body = HttpGet(server.endpoint(), absl::Seconds(5));
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "up 1\n");
  const std::string request = server.request();
  EXPECT_EQ(request.rfind("GET /metrics HTTP/1.0\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Host: 127.0.0.1:"), std::string::npos) << request;
}

TEST(Scrape, ParsesWhatTheEndpointServes) {
  const std::string body = "# TYPE up gauge\nup{job=\"x\"} 1\n";
  CannedServer server("HTTP/1.0 200 OK\r\n\r\n" + body);  // no Content-Length: the body runs to EOF
  auto samples = Scrape(server.endpoint(), absl::Seconds(5));
  ASSERT_TRUE(samples.ok()) << samples.status();
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0].labels.at("job"), "x");
}

TEST(HttpGet, RefusesWhatItCannotRead) {
  const std::pair<const char*, absl::StatusCode> cases[] = {
      {"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", absl::StatusCode::kUnavailable},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nup 1\n\r\n0\r\n\r\n",
       absl::StatusCode::kUnimplemented},
      {"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\nxx", absl::StatusCode::kUnimplemented},
      {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nup 1\n", absl::StatusCode::kDataLoss},
      {"SSH-2.0-OpenSSH\r\n\r\n", absl::StatusCode::kDataLoss},
      {"HTTP/1.1 200 OK\r\n", absl::StatusCode::kDataLoss},
  };
  for (const auto& [response, code] : cases) {
    CannedServer server(response);
    auto body = HttpGet(server.endpoint(), absl::Seconds(5));
    EXPECT_EQ(body.status().code(), code) << response << " -> " << body.status();
  }
}

TEST(HttpGet, ClosedPortAndSilentServerFailWithinTheTimeout) {
  int port;
  {
    CannedServer gone("");  // bound, then closed: nothing listens there any more
    port = std::stoi(gone.endpoint().port);
  }
  auto refused = HttpGet({"127.0.0.1", std::to_string(port), "/metrics"}, absl::Seconds(5));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();

  CannedServer silent("");
  const absl::Time start = absl::Now();
  auto timed_out = HttpGet(silent.endpoint(), absl::Milliseconds(300));
  EXPECT_EQ(timed_out.status().code(), absl::StatusCode::kDeadlineExceeded) << timed_out.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

}  // namespace
}  // namespace medgemma::cli
