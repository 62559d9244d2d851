#include "server/server_metrics.h"

namespace medgemma::server {
namespace {
using prometheus::Histogram;

const Histogram::BucketBoundaries kSecondsBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
}  // namespace

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("medgemma_requests_total")
                    .Help("Classify requests by gRPC status code and adapter")
                    .Register(*registry_)),
      latency_(prometheus::BuildHistogram()
                   .Name("medgemma_request_duration_seconds")
                   .Help("End-to-end Classify latency inside the server")
                   .Register(*registry_)
                   .Add({}, kSecondsBuckets)),
      queue_wait_(prometheus::BuildHistogram()
                      .Name("medgemma_queue_wait_seconds")
                      .Help("Time from admission to the batcher until the request's batch starts")
                      .Register(*registry_)
                      .Add({}, kSecondsBuckets)),
      preprocess_(prometheus::BuildHistogram()
                      .Name("medgemma_preprocess_seconds")
                      .Help("Image decode and preprocessing time")
                      .Register(*registry_)
                      .Add({}, kSecondsBuckets)),
      inference_(prometheus::BuildHistogram()
                     .Name("medgemma_inference_seconds")
                     .Help("Model time per batch")
                     .Register(*registry_)
                     .Add({}, kSecondsBuckets)),
      batch_size_(prometheus::BuildHistogram()
                      .Name("medgemma_batch_size")
                      .Help("Requests per executed batch")
                      .Register(*registry_)
                      .Add({}, Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64})),
      queue_depth_(prometheus::BuildGauge()
                       .Name("medgemma_queue_depth")
                       .Help("Requests waiting for the batcher")
                       .Register(*registry_)
                       .Add({})),
      queue_capacity_(prometheus::BuildGauge()
                          .Name("medgemma_queue_capacity")
                          .Help("Requests the batcher queues before answering RESOURCE_EXHAUSTED (max_queue_size)")
                          .Register(*registry_)
                          .Add({})),
      adapters_loaded_(prometheus::BuildGauge()
                           .Name("medgemma_adapters_loaded")
                           .Help("LoRA adapters resident in the server")
                           .Register(*registry_)
                           .Add({})),
      adapter_swaps_(prometheus::BuildCounter()
                         .Name("medgemma_adapter_swaps_total")
                         .Help("Adapter loads and default changes")
                         .Register(*registry_)
                         .Add({})),
      gpu_memory_(prometheus::BuildGauge()
                      .Name("medgemma_gpu_memory_used_bytes")
                      .Help("Memory in use on the model's GPU (cudaMemGetInfo; 0 on CPU)")
                      .Register(*registry_)
                      .Add({})) {}

void ServerMetrics::CountRequest(const std::string& code, const std::string& adapter) {
  requests_.Add({{"code", code}, {"adapter", adapter.empty() ? "base" : adapter}}).Increment();
}

void ServerMetrics::ObserveBatch(int size, double inference_seconds) {
  batch_size_.Observe(size);
  inference_.Observe(inference_seconds);
}

void ServerMetrics::SetAdapters(int loaded, int64_t swaps) {
  adapters_loaded_.Set(loaded);
  std::lock_guard<std::mutex> lock(swaps_mu_);
  if (swaps <= swaps_counted_) return;  // a report that another thread's overtook
  adapter_swaps_.Increment(static_cast<double>(swaps - swaps_counted_));
  swaps_counted_ = swaps;
}

}  // namespace medgemma::server
