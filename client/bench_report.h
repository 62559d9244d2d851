// What medgemma-cli bench reports: per concurrency level the client's view (requests, errors by
// gRPC code, images/s, latency percentiles) and, with --metrics, the server's (batch sizes, queue
// and inference times over the same window); as a table or as one JSON object.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "client/http_get.h"
#include "client/latency_stats.h"
#include "client/load_generator.h"
#include "client/server_window.h"
#include "medgemma/v1/classifier.pb.h"

namespace medgemma::cli {

// How the bench ran: what the report's header says.
struct BenchSetup {
  std::string server;
  std::vector<int> concurrency;
  LoadOptions load;
  std::string adapter;
  std::optional<HttpEndpoint> metrics;
  v1::ModelInfo model;
  size_t images = 0;
  uint64_t image_bytes = 0;
};

// One level's outcome: the client's counts and, with --metrics, the server's view of the window.
struct LevelReport {
  LevelTally tally;
  LatencySummary latency;
  std::optional<ServerWindow> server;
  std::string server_error;  // why `server` is missing although --metrics was given

  double images_per_s() const;
};

nlohmann::ordered_json ReportJson(const BenchSetup& setup, const std::vector<LevelReport>& levels);
std::string ReportTable(const BenchSetup& setup, const std::vector<LevelReport>& levels);

}  // namespace medgemma::cli
