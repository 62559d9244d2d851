#include "server/classifier_executor.h"

#include <torch/torch.h>

#include <vector>

#include "engine/device_memory.h"
#include "engine/torch_guard.h"

namespace medgemma::server {
namespace {
double Seconds(BatchClock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

absl::StatusOr<torch::Tensor> ClassifierExecutor::Classify(const Batch<ClassifyTask>& batch) const {
  const AdapterHandle& served = batch.tasks.front().adapter;
  const LoraAdapter* adapter = served ? served->adapter.get() : nullptr;
  return GuardTorch("classify batch", [&]() -> absl::StatusOr<torch::Tensor> {
    std::vector<torch::Tensor> pixels;
    pixels.reserve(batch.tasks.size());
    for (const ClassifyTask& task : batch.tasks) pixels.push_back(task.pixels);
    return classifier_->Classify(torch::stack(pixels), adapter);
  });
}

void ClassifierExecutor::Execute(Batch<ClassifyTask> batch) {
  const BatchClock::time_point start = BatchClock::now();
  absl::StatusOr<torch::Tensor> probabilities = Classify(batch);
  const BatchClock::duration took = BatchClock::now() - start;
  batch_time_.Observe(took);
  const int size = static_cast<int>(batch.tasks.size());
  metrics_->ObserveBatch(size, Seconds(took));
  if (auto in_use = DeviceMemoryInUse(classifier_->model().options().device)) metrics_->SetGpuMemory(*in_use);
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
