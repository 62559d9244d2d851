// Prometheus metrics of the classify path, which the service host exposes on their own port. Names
// follow Prometheus conventions: base units, _total counters, few labels with bounded values
// (status code names; adapter names, which only admins create: a name a client sends that is not
// loaded counts as "unknown").
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <absl/base/thread_annotations.h>

#include <memory>
#include <mutex>
#include <string>

namespace medgemma::server {

class ServerMetrics {
 public:
  ServerMetrics();

  // What the service host exposes on /metrics.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // `adapter`: a loaded adapter's name, "" for the base model, kUnknownAdapter for anything else.
  void CountRequest(const std::string& code, const std::string& adapter);
  static constexpr const char* kUnknownAdapter = "unknown";
  void ObserveLatency(double seconds) { latency_.Observe(seconds); }
  void ObserveQueueWait(double seconds) { queue_wait_.Observe(seconds); }
  void ObservePreprocess(double seconds) { preprocess_.Observe(seconds); }
  void ObserveBatch(int size, double inference_seconds);
  void SetQueueDepth(int depth) { queue_depth_.Set(depth); }
  void SetQueueCapacity(int capacity) { queue_capacity_.Set(capacity); }
  // `swaps`: the registry's running count; the counter advances by what it has not seen yet.
  void SetAdapters(int loaded, int64_t swaps);
  void SetGpuMemory(double bytes) { gpu_memory_.Set(bytes); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Histogram& latency_;
  prometheus::Histogram& queue_wait_;
  prometheus::Histogram& preprocess_;
  prometheus::Histogram& inference_;
  prometheus::Histogram& batch_size_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& queue_capacity_;
  prometheus::Gauge& adapters_loaded_;
  prometheus::Counter& adapter_swaps_;
  prometheus::Gauge& gpu_memory_;
  std::mutex swaps_mu_;  // admin calls and the loader's thread report concurrently
  int64_t swaps_counted_ ABSL_GUARDED_BY(swaps_mu_) = 0;
};

}  // namespace medgemma::server
