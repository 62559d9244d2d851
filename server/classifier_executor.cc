#include "server/classifier_executor.h"

#include <torch/torch.h>

#include <vector>

#include "engine/device_memory.h"
#include "engine/host_staging.h"
#include "engine/torch_guard.h"

namespace medgemma::server {
namespace {
double Seconds(BatchClock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

absl::StatusOr<torch::Tensor> ClassifierExecutor::Classify(const Batch<ClassifyTask>& batch) const {
  const AdapterHandle& served = batch.tasks.front().adapter;
  const LoraAdapter* adapter = served ? served->adapter.get() : nullptr;
  const torch::Device device = classifier_->model().options().device;
  return GuardTorch("classify batch", [&]() -> absl::StatusOr<torch::Tensor> {
    std::vector<torch::Tensor> rows;
    for (const auto& task : batch.tasks) rows.push_back(task.pixels);
    auto pixels = UploadAndNormalizePixels(StackForUpload(rows, device), device, preprocess_);
    return classifier_->Classify(pixels, adapter);
  });
}

void ClassifierExecutor::Execute(Batch<ClassifyTask> batch) {
  const BatchClock::time_point start = BatchClock::now();
  absl::StatusOr<torch::Tensor> probabilities = Classify(batch);
  const BatchClock::duration took = BatchClock::now() - start;
  batch_time_.Observe(took);
  metrics_->ObserveBatch(static_cast<int>(batch.tasks.size()), Seconds(took));
  if (auto in_use = DeviceMemoryInUse(classifier_->model().options().device)) metrics_->SetGpuMemory(*in_use);
  auto finished = std::make_shared<Batch<ClassifyTask>>(std::move(batch));
  completions_->Submit([this, finished, probabilities = std::move(probabilities), start, took] {
    Complete(*finished, probabilities, start, took);
  });
}

void ClassifierExecutor::Complete(Batch<ClassifyTask>& batch, const absl::StatusOr<torch::Tensor>& probabilities,
                                  BatchClock::time_point start, BatchClock::duration took) const {
  const int size = static_cast<int>(batch.tasks.size());
  for (int i = 0; i < size; ++i) {
    ClassifyTask& task = batch.tasks[i];
    if (!probabilities.ok()) {
      task.Fail(probabilities.status());
      continue;
    }
    BatchOutcome outcome;
    outcome.probabilities = (*probabilities)[i];
    outcome.adapter = task.adapter;
    outcome.batch_size = size;
    outcome.queue_seconds = Seconds(start - batch.enqueued[i]);
    outcome.inference_seconds = Seconds(took);
    metrics_->ObserveQueueWait(outcome.queue_seconds);
    task.done(std::move(outcome));
  }
}

}  // namespace medgemma::server
