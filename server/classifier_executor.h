// The classifier behind the batch scheduler: one forward pass per batch, with the adapter version
// its tasks pinned at admission, each task completed with its row of class probabilities. Runs on
// the scheduler thread, the one thread that touches the model; the tasks' completions (responses,
// gRPC writes) run on a thread of their own, so the next batch forms meanwhile.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <functional>
#include <memory>

#include "engine/classifier.h"
#include "engine/image_preprocessor.h"
#include "server/adapter_registry.h"
#include "server/batching/batch_executor.h"
#include "server/batching/batch_scheduler.h"
#include "server/batching/batch_time_estimate.h"
#include "server/server_metrics.h"
#include "server/thread_pool.h"

namespace medgemma::server {

struct BatchOutcome {
  torch::Tensor probabilities;  // (labels) float32 on the CPU
  AdapterHandle adapter;        // the version that ran
  int batch_size = 0;
  double queue_seconds = 0, inference_seconds = 0;
};

struct ClassifyTask {
  torch::Tensor pixels;   // (3, S, S) uint8 from ResizeImage: normalized on the model's device
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
  ClassifierExecutor(const Classifier* classifier, const PreprocessConfig& preprocess, ServerMetrics* metrics,
                     BatchClock::duration warm_up_batch_time)
      : classifier_(classifier), preprocess_(preprocess), metrics_(metrics), batch_time_(warm_up_batch_time),
        completions_(std::make_unique<ThreadPool>(1)) {}

  void Execute(Batch<ClassifyTask> batch) override;
  BatchClock::duration ExpectedBatchTime() const override { return batch_time_.Get(); }
  // Completes every batch already executed, then joins the completion thread. Call once the
  // scheduler has stopped.
  void Stop() { completions_.reset(); }

 private:
  absl::StatusOr<torch::Tensor> Classify(const Batch<ClassifyTask>& batch) const;
  void Complete(Batch<ClassifyTask>& batch, const absl::StatusOr<torch::Tensor>& probabilities,
                BatchClock::time_point start, BatchClock::duration took) const;

  const Classifier* classifier_;
  const PreprocessConfig preprocess_;
  ServerMetrics* metrics_;
  BatchTimeEstimate batch_time_;
  std::unique_ptr<ThreadPool> completions_;
};

}  // namespace medgemma::server
