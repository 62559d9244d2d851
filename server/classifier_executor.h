// The classifier behind the batch scheduler: one forward pass per batch, with the adapter version
// its tasks pinned at admission, each task completed with its row of class probabilities. Runs on
// the scheduler thread, the one thread that touches the model.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <functional>

#include "engine/classifier.h"
#include "server/adapter_registry.h"
#include "server/batching/batch_executor.h"
#include "server/batching/batch_scheduler.h"
#include "server/batching/batch_time_estimate.h"
#include "server/server_metrics.h"

namespace medgemma::server {

struct BatchOutcome {
  torch::Tensor probabilities;  // (labels) float32 on the CPU
  AdapterHandle adapter;        // the version that ran
  int batch_size = 0;
  double queue_seconds = 0, inference_seconds = 0;
};

struct ClassifyTask {
  torch::Tensor pixels;   // (C, S, S)
  AdapterHandle adapter;  // resolved at admission; keeps that version alive until the batch has run
  std::function<void(absl::StatusOr<BatchOutcome>)> done;  // called exactly once

  // Tasks batch together only with the same adapter version (the base model's is nullptr).
  BatchGroup group() const { return adapter.get(); }
  void Fail(absl::Status status) { done(std::move(status)); }
};

using ClassifyScheduler = BatchScheduler<ClassifyTask>;

class ClassifierExecutor final : public BatchExecutor<ClassifyTask> {
 public:
  // `warm_up_batch_time`: the first estimate of a batch's run time.
  ClassifierExecutor(const Classifier* classifier, ServerMetrics* metrics, BatchClock::duration warm_up_batch_time)
      : classifier_(classifier), metrics_(metrics), batch_time_(warm_up_batch_time) {}

  void Execute(Batch<ClassifyTask> batch) override;
  BatchClock::duration ExpectedBatchTime() const override { return batch_time_.Get(); }

 private:
  absl::StatusOr<torch::Tensor> Classify(const Batch<ClassifyTask>& batch) const;

  const Classifier* classifier_;
  ServerMetrics* metrics_;
  BatchTimeEstimate batch_time_;
};

}  // namespace medgemma::server
