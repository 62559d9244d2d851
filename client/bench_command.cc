#include "client/bench_command.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>
#include <grpcpp/grpcpp.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "base/file_util.h"
#include "base/flags.h"
#include "base/status_macros.h"
#include "client/bench_report.h"
#include "client/connection.h"
#include "client/image_files.h"
#include "client/load_generator.h"
#include "client/metrics_scrape.h"
#include "client/server_window.h"
#include "medgemma/v1/classifier.grpc.pb.h"
#include "rpc/grpc_status.h"

namespace medgemma::cli {
namespace {

constexpr int kMaxConcurrency = 1024;  // unary mode runs a thread per request in flight
constexpr absl::Duration kScrapeTimeout = absl::Seconds(5);

const FlagSet& BenchFlags() {
  static const FlagSet flags =
      FlagSet("medgemma-cli bench --server HOST:PORT --images DIR|FILE [flags]",
              {{"images", "DIR|FILE", "images sent round-robin, read once (repeatable; directories recursively)"},
               {"concurrency", "LIST", "requests kept in flight, one measured level each (default 1,4,16,64,128)"},
               {"mode", "unary|stream", "Classify calls, or requests on ClassifyStream (default unary)"},
               {"streams", "N", "stream mode: streams a level's requests in flight are spread over (default 1)"},
               {"adapter", "NAME", "adapter to classify with (default: the server's default)"},
               {"warmup-s", "SECONDS", "load before each level's window, not counted (default 2)"},
               {"duration-s", "SECONDS", "each level's measurement window (default 5)"},
               {"requests", "N", "also close a window once N requests completed in it"},
               {"timeout-s", "SECONDS", "deadline of each unary request; a level's drain bound (default 30)"},
               {"metrics", "URL", "server's /metrics (http://HOST:PORT/metrics): its batch sizes, queue/inference ms"},
               {"json", "", "print one JSON object instead of a table"}})
          .Add(ConnectionFlags("server"));
  return flags;
}

absl::StatusOr<std::vector<int>> ParseConcurrency(const std::string& list) {
  std::vector<int> levels;
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    int n = 0;
    if (!absl::SimpleAtoi(item, &n) || n < 1 || n > kMaxConcurrency) {
      return absl::InvalidArgumentError(
          absl::StrCat("--concurrency: expected integers from 1 to ", kMaxConcurrency, ", got '", item, "'"));
    }
    levels.push_back(n);
  }
  if (levels.empty()) return absl::InvalidArgumentError("--concurrency: no levels given");
  return levels;
}

absl::StatusOr<absl::Duration> Seconds(const Args& args, const std::string& flag, double fallback, bool zero_ok) {
  MG_ASSIGN_OR_RETURN(double seconds, args.GetDouble(flag, fallback));
  if (!std::isfinite(seconds) || seconds < 0 || (seconds == 0 && !zero_ok)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be ", zero_ok ? "0 or more" : "positive"));
  }
  return absl::Seconds(seconds);
}

absl::StatusOr<LoadOptions> ParseLoadOptions(const Args& args) {
  LoadOptions o;
  const std::string mode = args.Get("mode", "unary");
  if (mode != "unary" && mode != "stream") return absl::InvalidArgumentError("--mode must be unary or stream");
  o.mode = mode == "unary" ? LoadOptions::Mode::kUnary : LoadOptions::Mode::kStream;
  MG_ASSIGN_OR_RETURN(int64_t streams, args.GetInt("streams", 1));
  if (streams < 1 || streams > kMaxConcurrency) return absl::InvalidArgumentError("--streams must be from 1 to 1024");
  o.streams = static_cast<int>(streams);
  MG_ASSIGN_OR_RETURN(o.warm_up, Seconds(args, "warmup-s", 2, true));
  MG_ASSIGN_OR_RETURN(o.window, Seconds(args, "duration-s", 5, false));
  MG_ASSIGN_OR_RETURN(o.request_timeout, Seconds(args, "timeout-s", 30, false));
  MG_ASSIGN_OR_RETURN(o.window_requests, args.GetInt("requests", 0));
  if (o.window_requests < 0) return absl::InvalidArgumentError("--requests must be positive");
  return o;
}

// Every image read once; the requests are built once and sent round-robin.
absl::StatusOr<std::vector<v1::ClassifyRequest>> LoadRequests(const std::vector<std::string>& paths,
                                                              const std::string& adapter, uint64_t* bytes) {
  if (paths.empty()) return absl::InvalidArgumentError("--images is required");
  MG_ASSIGN_OR_RETURN(std::vector<std::filesystem::path> files, ExpandImagePaths(paths));
  std::vector<v1::ClassifyRequest> requests(files.size());
  *bytes = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    MG_ASSIGN_OR_RETURN(*requests[i].mutable_image()->mutable_encoded(), ReadFileToString(files[i]));
    requests[i].set_request_id(files[i].filename().string());
    requests[i].set_adapter(adapter);
    *bytes += requests[i].image().encoded().size();
  }
  return requests;
}

// The server answers at all (and tells what it serves) before any load is generated.
absl::StatusOr<v1::ModelInfo> Preflight(const Connection& connection, const std::string& address) {
  grpc::ClientContext context;
  connection.Authorize(&context);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::ModelInfo info;
  const absl::Status status = rpc::FromGrpcStatus(
      v1::Classifier::NewStub(connection.channel)->GetModelInfo(&context, v1::GetModelInfoRequest(), &info));
  if (status.ok()) return info;
  if (status.code() == absl::StatusCode::kUnavailable || status.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::Status(status.code(),
                        absl::StrCat("cannot reach medgemma-server at ", address, ": ", status.message()));
  }
  return absl::Status(status.code(),
                      absl::StrCat("medgemma-server at ", address, " refused GetModelInfo: ", status.message()));
}

absl::StatusOr<ServerHistograms> ScrapeServer(const HttpEndpoint& endpoint) {
  MG_ASSIGN_OR_RETURN(std::vector<MetricSample> samples, Scrape(endpoint, kScrapeTimeout));
  return ReadServerHistograms(samples);
}

LevelReport RunLevel(const LoadGenerator& generator, const BenchSetup& setup, int concurrency) {
  absl::StatusOr<ServerHistograms> before = absl::UnknownError("not scraped"), after = before;
  const auto scrape_into = [&](absl::StatusOr<ServerHistograms>* out) {
    if (setup.metrics) *out = ScrapeServer(*setup.metrics);
  };
  LevelReport r;
  r.tally = generator.Run(
      concurrency, [&] { scrape_into(&before); }, [&] { scrape_into(&after); });
  r.latency = Summarize(r.tally.latencies_ms);
  if (!setup.metrics) return r;
  if (!before.ok() || !after.ok()) {
    r.server_error = std::string((before.ok() ? after : before).status().message());
  } else {
    r.server = WindowBetween(*before, *after);
  }
  return r;
}

}  // namespace

absl::Status Bench(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, BenchFlags()));
  if (!args.positional().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument '", args.positional()[0], "' (images go in --images)"));
  }
  BenchSetup setup;
  MG_ASSIGN_OR_RETURN(setup.server, args.Require("server"));
  MG_ASSIGN_OR_RETURN(setup.concurrency, ParseConcurrency(args.Get("concurrency", "1,4,16,64,128")));
  MG_ASSIGN_OR_RETURN(setup.load, ParseLoadOptions(args));
  setup.adapter = args.Get("adapter");
  if (args.Has("metrics")) {
    MG_ASSIGN_OR_RETURN(setup.metrics, ParseMetricsUrl(args.Get("metrics")));
  }
  MG_ASSIGN_OR_RETURN(std::vector<v1::ClassifyRequest> requests,
                      LoadRequests(args.GetAll("images"), setup.adapter, &setup.image_bytes));
  setup.images = requests.size();
  MG_ASSIGN_OR_RETURN(Connection connection, Connect(args, "server"));
  MG_ASSIGN_OR_RETURN(setup.model, Preflight(connection, setup.server));
  if (setup.metrics) MG_RETURN_IF_ERROR(ScrapeServer(*setup.metrics).status());

  const LoadGenerator generator(std::move(connection), std::move(requests), setup.load);
  std::vector<LevelReport> levels;
  int64_t requests_total = 0, errors_total = 0;
  for (int concurrency : setup.concurrency) {
    std::cerr << "bench: concurrency " << concurrency << " ..." << std::flush;
    levels.push_back(RunLevel(generator, setup, concurrency));
    const LevelTally& t = levels.back().tally;
    requests_total += t.ok + t.error_count();
    errors_total += t.error_count();
    std::cerr << " " << t.ok << " ok, " << t.error_count() << " errors in " << absl::StrFormat("%.1f", t.window_seconds)
              << " s\n";
  }
  std::cout << (args.Has("json") ? ReportJson(setup, levels).dump(2) + "\n" : ReportTable(setup, levels)) << std::flush;
  if (errors_total > 0) {
    return absl::UnknownError(
        absl::StrCat(errors_total, " of ", requests_total,
                     " requests in the measurement windows failed (errors by code are in the report)"));
  }
  return absl::OkStatus();
}

}  // namespace medgemma::cli
