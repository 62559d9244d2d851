#include "client/latency_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace medgemma::cli {

double NearestRankPercentile(const std::vector<double>& sorted, double percentile) {
  if (sorted.empty()) return 0;
  // p * n before the division: exact for integer p, so p99 of 100 values is rank 99, not 100.
  const double rank = std::ceil(percentile * static_cast<double>(sorted.size()) / 100.0);
  const size_t index = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(sorted.size()))) - 1;
  return sorted[index];
}

LatencySummary Summarize(std::vector<double> latencies_ms) {
  LatencySummary s;
  s.count = latencies_ms.size();
  if (latencies_ms.empty()) return s;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  s.mean_ms = std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) / static_cast<double>(s.count);
  s.p50_ms = NearestRankPercentile(latencies_ms, 50);
  s.p90_ms = NearestRankPercentile(latencies_ms, 90);
  s.p99_ms = NearestRankPercentile(latencies_ms, 99);
  s.max_ms = latencies_ms.back();
  return s;
}

}  // namespace medgemma::cli
