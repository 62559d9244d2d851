// What medgemma-server's own metrics say about a measurement window: the deltas of its histograms
// (server/server_metrics.cc; the names are public API) between a scrape as the window opens and
// one as it closes. This is the server-side half of a bench report, as perf_analyzer's server
// queue / compute split is.
#pragma once

#include <absl/status/statusor.h>

#include <optional>
#include <utility>
#include <vector>

#include "client/metrics_scrape.h"

namespace medgemma::cli {

// The histograms of one scrape that a window is computed from.
struct ServerHistograms {
  HistogramSnapshot batch_size, queue_wait, inference, preprocess, request;
};

// NotFound when the exposition lacks one (the endpoint is not a medgemma-server's).
absl::StatusOr<ServerHistograms> ReadServerHistograms(const std::vector<MetricSample>& samples);

struct ServerWindow {
  double batches = 0;  // batches the server executed
  double images = 0;   // requests in those batches
  // (bucket upper bound, batches whose size is above the previous bound and at most this one).
  std::vector<std::pair<double, double>> batch_sizes;
  // Means, empty when nothing was observed: per request the wait for its batch to start, decode and
  // preprocessing, and the end-to-end time inside the server; per batch the model time.
  std::optional<double> batch_size_mean, queue_ms_mean, preprocess_ms_mean, request_ms_mean, inference_ms_mean;
};

ServerWindow WindowBetween(const ServerHistograms& before, const ServerHistograms& after);

}  // namespace medgemma::cli
