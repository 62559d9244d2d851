// Latency percentiles of a measurement window, as load generators (Triton's perf_analyzer, wrk)
// report them: nearest rank, so every reported value is a latency that was actually observed.
#pragma once

#include <cstddef>
#include <vector>

namespace medgemma::cli {

struct LatencySummary {
  size_t count = 0;
  double mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;  // all 0 when count is 0
};

// The nearest-rank `percentile` (0 < percentile <= 100) of ascending `sorted`: the smallest value
// with at least percentile% of the values at or below it. 0 for an empty vector.
double NearestRankPercentile(const std::vector<double>& sorted, double percentile);

LatencySummary Summarize(std::vector<double> latencies_ms);

}  // namespace medgemma::cli
