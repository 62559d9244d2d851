// One Classify request from admission to response: resolve the adapter (once, so the version is
// pinned), decode and preprocess on the CPU pool, wait for a batch on the model thread, and turn
// the class probabilities into a ClassifyResponse. Shared by the unary and streaming RPCs.
#pragma once

#include <absl/status/statusor.h>

#include <functional>
#include <string>

#include "engine/image_preprocessor.h"
#include "engine/task.h"
#include "medgemma/v1/classifier.pb.h"
#include "server/adapter_registry.h"
#include "server/dynamic_batcher.h"
#include "server/server_metrics.h"
#include "server/thread_pool.h"

namespace medgemma::server {

class ClassificationPipeline {
 public:
  struct Parts {
    std::string model_id;
    Task task;
    PreprocessConfig preprocess;
    ImageLimits limits;
    AdapterRegistry* registry;
    DynamicBatcher* batcher;
    ThreadPool* pool;
    ServerMetrics* metrics;
  };
  explicit ClassificationPipeline(Parts parts) : p_(std::move(parts)) {}

  using Done = std::function<void(absl::StatusOr<v1::ClassifyResponse>)>;
  // `done` runs exactly once, on whichever thread finishes the request.
  void Submit(v1::ClassifyRequest request, Clock::time_point deadline, std::function<bool()> cancelled, Done done);

 private:
  void Preprocess(v1::ClassifyRequest request, AdapterHandle adapter, Clock::time_point deadline,
                  std::function<bool()> cancelled, Clock::time_point admitted, Done done);
  v1::ClassifyResponse BuildResponse(const std::string& request_id, const BatchOutcome& outcome, double preprocess_seconds,
                                     Clock::time_point admitted) const;
  Done Counted(const std::string& adapter, Clock::time_point admitted, Done done) const;

  Parts p_;
};

}  // namespace medgemma::server
