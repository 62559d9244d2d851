#include "client/bench_report.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <algorithm>
#include <cmath>

namespace medgemma::cli {
namespace {
using json = nlohmann::ordered_json;

// Prometheus values are doubles; the counts among them are whole numbers.
int64_t Count(double v) { return std::llround(v); }

std::string BoundName(double le) { return std::isinf(le) ? "+Inf" : absl::StrCat(le); }

json OrNull(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::optional<double> IfObserved(const LatencySummary& l, double v) {
  return l.count > 0 ? std::optional<double>(v) : std::nullopt;
}

json LatencyJson(const LatencySummary& l) {
  return {{"mean", OrNull(IfObserved(l, l.mean_ms))},
          {"p50", OrNull(IfObserved(l, l.p50_ms))},
          {"p90", OrNull(IfObserved(l, l.p90_ms))},
          {"p99", OrNull(IfObserved(l, l.p99_ms))},
          {"max", OrNull(IfObserved(l, l.max_ms))}};
}

json ServerJson(const LevelReport& r) {
  if (!r.server) return {{"error", r.server_error}};
  const ServerWindow& w = *r.server;
  json histogram = json::array();
  for (const auto& [le, batches] : w.batch_sizes)
    histogram.push_back({{"le", BoundName(le)}, {"batches", Count(batches)}});
  return {{"batches", Count(w.batches)},
          {"images", Count(w.images)},
          {"batch_size_mean", OrNull(w.batch_size_mean)},
          {"batch_size_histogram", histogram},
          {"queue_ms_mean", OrNull(w.queue_ms_mean)},
          {"inference_ms_mean", OrNull(w.inference_ms_mean)},
          {"preprocess_ms_mean", OrNull(w.preprocess_ms_mean)},
          {"request_ms_mean", OrNull(w.request_ms_mean)}};
}

std::string Cell(const std::optional<double>& v, int width) {
  return absl::StrFormat("%*s", width, v ? absl::StrFormat("%.2f", *v) : "-");
}

std::string Header(const BenchSetup& s) {
  const bool stream = s.load.mode == LoadOptions::Mode::kStream;
  return absl::StrFormat(
      "medgemma-server %s: model %s (%s, %s), max batch %d, max queue delay %d us\n"
      "%s, %d images (%.1f KiB mean), adapter %s, warm-up %g s + window %g s per level%s\n\n"
      "concurrency  requests  errors  images/s    p50 ms    p90 ms    p99 ms    max ms%s\n",
      s.server, s.model.model_id(), s.model.device(), s.model.dtype(), s.model.batching().max_batch_size(),
      s.model.batching().max_queue_delay_us(),
      stream ? absl::StrCat("stream mode over up to ", s.load.streams, " stream(s)") : "unary mode", s.images,
      s.image_bytes / 1024.0 / std::max<size_t>(s.images, 1), s.adapter.empty() ? "(server default)" : s.adapter,
      absl::ToDoubleSeconds(s.load.warm_up), absl::ToDoubleSeconds(s.load.window),
      s.load.window_requests > 0 ? absl::StrCat(" (or ", s.load.window_requests, " requests)") : "",
      s.metrics ? " | batch  queue ms  infer ms" : "");
}

std::string Row(const LevelReport& r, bool with_server) {
  const LatencySummary& l = r.latency;
  std::string row = absl::StrFormat("%11d  %8d  %6d  %8.2f  %s  %s  %s  %s", r.tally.concurrency,
                                    r.tally.ok + r.tally.error_count(), r.tally.error_count(), r.images_per_s(),
                                    Cell(IfObserved(l, l.p50_ms), 8), Cell(IfObserved(l, l.p90_ms), 8),
                                    Cell(IfObserved(l, l.p99_ms), 8), Cell(IfObserved(l, l.max_ms), 8));
  if (with_server) {
    const ServerWindow w = r.server.value_or(ServerWindow());
    absl::StrAppend(&row, " | ", Cell(w.batch_size_mean, 5), "  ", Cell(w.queue_ms_mean, 8), "  ",
                    Cell(w.inference_ms_mean, 8));
  }
  return row + "\n";
}

}  // namespace

double LevelReport::images_per_s() const {
  return tally.window_seconds > 0 ? static_cast<double>(tally.ok) / tally.window_seconds : 0;
}

nlohmann::ordered_json ReportJson(const BenchSetup& s, const std::vector<LevelReport>& levels) {
  json out = {{"server", s.server},
              {"model_id", s.model.model_id()},
              {"device", s.model.device()},
              {"dtype", s.model.dtype()},
              {"max_batch_size", s.model.batching().max_batch_size()},
              {"max_queue_delay_us", s.model.batching().max_queue_delay_us()},
              {"mode", s.load.mode == LoadOptions::Mode::kUnary ? "unary" : "stream"},
              {"streams", s.load.mode == LoadOptions::Mode::kUnary ? json(nullptr) : json(s.load.streams)},
              {"adapter", s.adapter},
              {"images", s.images},
              {"image_bytes", s.image_bytes},
              {"warmup_s", absl::ToDoubleSeconds(s.load.warm_up)},
              {"duration_s", absl::ToDoubleSeconds(s.load.window)},
              {"window_requests", s.load.window_requests},
              {"metrics", s.metrics ? json(s.metrics->ToString()) : json(nullptr)},
              {"levels", json::array()}};
  for (const LevelReport& r : levels) {
    json level = {{"concurrency", r.tally.concurrency},
                  {"window_s", r.tally.window_seconds},
                  {"requests", r.tally.ok + r.tally.error_count()},
                  {"ok", r.tally.ok},
                  {"errors", r.tally.error_count()},
                  {"errors_by_code", r.tally.errors},
                  {"images_per_s", r.images_per_s()},
                  {"latency_ms", LatencyJson(r.latency)}};
    if (s.metrics) level["server"] = ServerJson(r);
    out["levels"].push_back(std::move(level));
  }
  return out;
}

std::string ReportTable(const BenchSetup& s, const std::vector<LevelReport>& levels) {
  std::string out = Header(s), batches, scrape_errors, errors;
  for (const LevelReport& r : levels) {
    absl::StrAppend(&out, Row(r, s.metrics.has_value()));
    const std::string level = absl::StrFormat("  concurrency %d:", r.tally.concurrency);
    if (r.server) {
      absl::StrAppend(&batches, level, r.server->batches > 0 ? "" : " none");
      for (const auto& [le, n] : r.server->batch_sizes) {
        if (n > 0) absl::StrAppend(&batches, " <=", BoundName(le), ":", Count(n));
      }
      absl::StrAppend(&batches, "\n");
    } else if (s.metrics) {
      absl::StrAppend(&scrape_errors, level, " ", r.server_error, "\n");
    }
    if (!r.tally.errors.empty()) {
      absl::StrAppend(&errors, level);
      for (const auto& [code, n] : r.tally.errors) absl::StrAppend(&errors, " ", code, " ", n);
      absl::StrAppend(&errors, "\n");
    }
  }
  if (!batches.empty()) absl::StrAppend(&out, "\nserver batch sizes (batches per size bucket):\n", batches);
  if (!scrape_errors.empty()) absl::StrAppend(&out, "\nserver metrics not read:\n", scrape_errors);
  if (!errors.empty()) absl::StrAppend(&out, "\nerrors by gRPC code:\n", errors);
  return out;
}

}  // namespace medgemma::cli
