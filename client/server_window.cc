#include "client/server_window.h"

#include "base/status_macros.h"

namespace medgemma::cli {
namespace {

std::optional<double> Mean(const HistogramSnapshot& h, double scale) {
  if (h.count <= 0) return std::nullopt;
  return h.sum / h.count * scale;
}

}  // namespace

absl::StatusOr<ServerHistograms> ReadServerHistograms(const std::vector<MetricSample>& samples) {
  ServerHistograms h;
  MG_ASSIGN_OR_RETURN(h.batch_size, FindHistogram(samples, "medgemma_batch_size"));
  MG_ASSIGN_OR_RETURN(h.queue_wait, FindHistogram(samples, "medgemma_queue_wait_seconds"));
  MG_ASSIGN_OR_RETURN(h.inference, FindHistogram(samples, "medgemma_inference_seconds"));
  MG_ASSIGN_OR_RETURN(h.preprocess, FindHistogram(samples, "medgemma_preprocess_seconds"));
  MG_ASSIGN_OR_RETURN(h.request, FindHistogram(samples, "medgemma_request_duration_seconds"));
  return h;
}

ServerWindow WindowBetween(const ServerHistograms& before, const ServerHistograms& after) {
  const HistogramSnapshot batch = HistogramDelta(after.batch_size, before.batch_size);
  ServerWindow w;
  w.batches = batch.count;
  w.images = batch.sum;  // each batch observes its size
  double below = 0;
  for (const auto& [bound, cumulative] : batch.cumulative) {
    w.batch_sizes.emplace_back(bound, cumulative - below);
    below = cumulative;
  }
  w.batch_size_mean = Mean(batch, 1);
  w.queue_ms_mean = Mean(HistogramDelta(after.queue_wait, before.queue_wait), 1e3);
  w.inference_ms_mean = Mean(HistogramDelta(after.inference, before.inference), 1e3);
  w.preprocess_ms_mean = Mean(HistogramDelta(after.preprocess, before.preprocess), 1e3);
  w.request_ms_mean = Mean(HistogramDelta(after.request, before.request), 1e3);
  return w;
}

}  // namespace medgemma::cli
