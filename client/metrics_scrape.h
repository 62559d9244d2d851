// Reads a Prometheus endpoint without a client library: a parser of the text exposition format
// (0.0.4), the histogram arithmetic a load generator needs (what a server observed between two
// scrapes), and the scrape itself over client/http_get.
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <absl/time/time.h>

#include <map>
#include <string>
#include <vector>

#include "client/http_get.h"

namespace medgemma::cli {

using MetricLabels = std::map<std::string, std::string>;

struct MetricSample {
  std::string name;  // as written: a histogram's lines are NAME_bucket, NAME_sum, NAME_count
  MetricLabels labels;
  double value = 0;
};

// Every sample of an exposition (comments, # HELP, # TYPE and blank lines skipped; timestamps
// dropped). A malformed line is InvalidArgument naming its line number.
absl::StatusOr<std::vector<MetricSample>> ParsePrometheusText(absl::string_view text);

struct HistogramSnapshot {
  std::map<double, double> cumulative;  // bucket upper bound (le, +Inf last) -> observations <= it
  double sum = 0, count = 0;
};

// The histogram `name`, summed over every series whose labels include `match` (series of one
// histogram share their bucket bounds). NotFound when the exposition has no NAME_count.
absl::StatusOr<HistogramSnapshot> FindHistogram(const std::vector<MetricSample>& samples, absl::string_view name,
                                                const MetricLabels& match = {});

// What was observed between two scrapes of one process (histograms only grow).
HistogramSnapshot HistogramDelta(const HistogramSnapshot& after, const HistogramSnapshot& before);

// http://HOST:PORT[/PATH] or HOST:PORT[/PATH] ([v6 address]:PORT too); the path defaults to
// /metrics. Only plain http: a metrics port is a cluster-internal, unauthenticated endpoint.
absl::StatusOr<HttpEndpoint> ParseMetricsUrl(absl::string_view url);

// HttpGet, then ParsePrometheusText; errors name the endpoint.
absl::StatusOr<std::vector<MetricSample>> Scrape(const HttpEndpoint& endpoint, absl::Duration timeout);

}  // namespace medgemma::cli
