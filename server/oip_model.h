// The classifier as one Open Inference Protocol model, independent of transport: readiness,
// metadata, Triton's model configuration and statistics, and inference through the same
// ClassificationPipeline (dynamic batcher, deadlines, byte limits) as medgemma.v1.Classify. The
// gRPC service (server/open_inference_service.h) and the HTTP endpoint are thin layers over it.
//
// Adapters are versions of the one model: a request's model_version names a loaded adapter, and an
// empty version means the server's default adapter, exactly as ClassifyRequest.adapter does. The
// response's model_version is the adapter that answered ("" for the base model). Versions rather
// than models of their own because adapters share the model's inputs, outputs and batcher, and
// OIP clients (tritonclient, perf_analyzer -x) already select a version per request.
#pragma once

#include <absl/status/statusor.h>

#include <atomic>
#include <functional>
#include <string>

#include "inference/grpc_service.pb.h"
#include "server/adapter_registry.h"
#include "server/classification_audit.h"
#include "server/classification_pipeline.h"

namespace medgemma::server {

class OipModel {
 public:
  struct Options {
    std::string name;  // the model id, as ModelInfo.model_id
    int num_labels = 0;
    int max_batch_size = 0;
    std::vector<int> preferred_batch_sizes;
    int64_t max_queue_delay_us = 0;
  };
  OipModel(Options options, ClassificationPipeline* pipeline, const AdapterRegistry* registry, AuditLog* audit)
      : o_(std::move(options)), pipeline_(pipeline), registry_(registry), audit_(audit) {}

  const std::string& name() const { return o_.name; }
  // False from the moment shutdown starts.
  void SetServing(bool serving) { serving_.store(serving); }
  bool serving() const { return serving_.load(); }

  // NOT_FOUND for another model's name or a version (adapter) not loaded.
  absl::Status CheckServed(const std::string& name, const std::string& version) const;
  absl::StatusOr<inference::ModelMetadataResponse> Metadata(const std::string& name, const std::string& version) const;
  absl::StatusOr<inference::ModelConfigResponse> Config(const std::string& name, const std::string& version) const;
  // Empty name: every model (this one). One entry for all versions together, version "0".
  absl::StatusOr<inference::ModelStatisticsResponse> Statistics(const std::string& name) const;

  using InferDone = std::function<void(absl::StatusOr<inference::ModelInferResponse>)>;
  // Each of the request's N images becomes one pipeline request, so they batch with every other
  // caller's; `done` runs once, after the last, with the first failure if any failed, and after
  // the request's audit line (`call`: the transport's api name and the authorized caller).
  void Infer(const inference::ModelInferRequest& request, AuditedCall call, Clock::time_point deadline,
             std::function<bool()> cancelled, InferDone done);

 private:
  struct Counter {
    std::atomic<uint64_t> count{0}, ns{0};
    void Add(uint64_t n, double seconds) {
      count += n;
      ns += static_cast<uint64_t>(seconds * 1e9);
    }
  };
  // Triton's per-model statistics, summed over the images of successful and failed requests.
  struct Stats {
    Counter success, fail, queue, compute_input, compute_infer, compute_output;
    std::atomic<uint64_t> last_inference_ms{0};
  };
  void Record(const std::vector<v1::ClassifyResponse>& responses, bool ok, size_t images, double seconds);

  const Options o_;
  ClassificationPipeline* pipeline_;
  const AdapterRegistry* registry_;
  AuditLog* audit_;
  std::atomic<bool> serving_{true};
  Stats stats_;
};

}  // namespace medgemma::server
