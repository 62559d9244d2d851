// medgemma-cli bench: a load generator for medgemma-server in the manner of Triton's perf_analyzer.
// For each concurrency level it keeps that many Classify requests in flight (client/load_generator),
// warms up, measures a window, and reports images/s, latency percentiles and errors by gRPC code;
// with --metrics, also the server's own batch-size histogram and queue / inference times over the
// window (client/server_window). A table, or one JSON object with --json.
#pragma once

#include <absl/status/status.h>

#include <string>
#include <vector>

namespace medgemma::cli {

// bench --server HOST:PORT --images DIR|FILE [--concurrency 1,4,16,64,128] [--mode unary|stream]
//       [--metrics URL] [--json] ...   (--help lists every flag)
absl::Status Bench(const std::vector<std::string>& argv);

}  // namespace medgemma::cli
