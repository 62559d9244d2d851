#include "server/dynamic_batcher.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include <algorithm>

#include "engine/device_memory.h"

namespace medgemma::server {

DynamicBatcher::DynamicBatcher(const Classifier* classifier, const BatchingConfig& config, ServerMetrics* metrics,
                               double expected_batch_seconds)
    : classifier_(classifier),
      config_(config),
      metrics_(metrics),
      expected_batch_seconds_(expected_batch_seconds),
      thread_([this] { Run(); }) {}

DynamicBatcher::~DynamicBatcher() { Stop(); }

absl::Status DynamicBatcher::Submit(BatchRequest request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("server is shutting down");
    if (static_cast<int>(queue_.size()) >= config_.max_queue_size) {
      return absl::ResourceExhaustedError(absl::StrCat("request queue is full (", config_.max_queue_size, " waiting)"));
    }
    queue_.push_back(std::move(request));
    metrics_->SetQueueDepth(static_cast<int>(queue_.size()));
  }
  cv_.notify_one();
  return absl::OkStatus();
}

void DynamicBatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

int64_t DynamicBatcher::executed_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return executed_;
}

std::vector<std::pair<BatchRequest, absl::Status>> DynamicBatcher::TakeDead(Clock::time_point now) {
  std::vector<std::pair<BatchRequest, absl::Status>> dead;
  // A request that cannot be answered before its deadline would only waste the model's time.
  const auto finish = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(expected_batch_seconds_));
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->deadline <= finish) {
      dead.emplace_back(std::move(*it), absl::DeadlineExceededError("deadline falls before the model could answer"));
    } else if (it->cancelled && it->cancelled()) {
      dead.emplace_back(std::move(*it), absl::CancelledError("cancelled by the caller"));
    } else {
      ++it;
      continue;
    }
    it = queue_.erase(it);
  }
  return dead;
}

void DynamicBatcher::Run() {
  const auto max_delay = std::chrono::microseconds(config_.max_queue_delay_us);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    auto dead = TakeDead(Clock::now());
    if (!dead.empty()) {
      metrics_->SetQueueDepth(static_cast<int>(queue_.size()));
      lock.unlock();
      for (auto& [request, status] : dead) request.done(status);
      lock.lock();
      continue;
    }
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    // The oldest request's adapter group, in arrival order.
    const ServedAdapter* group = queue_.front().adapter.get();
    std::vector<size_t> members;
    for (size_t i = 0; i < queue_.size() && static_cast<int>(members.size()) < config_.max_batch_size; ++i) {
      if (queue_[i].adapter.get() == group) members.push_back(i);
    }
    const int size = static_cast<int>(members.size());
    const auto& preferred = config_.preferred_batch_sizes;
    const auto oldest_due = queue_.front().admitted + max_delay;
    const bool ready = stopping_ || size >= config_.max_batch_size || Clock::now() >= oldest_due ||
                       std::find(preferred.begin(), preferred.end(), size) != preferred.end();
    if (!ready) {
      // Wake at the oldest request's due time, at the next arrival, or at the earliest deadline.
      auto wake = oldest_due;
      for (const auto& r : queue_) wake = std::min(wake, r.deadline);
      cv_.wait_until(lock, wake);
      continue;
    }
    std::vector<BatchRequest> batch;
    for (auto it = members.rbegin(); it != members.rend(); ++it) {
      batch.push_back(std::move(queue_[*it]));
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(*it));
    }
    std::reverse(batch.begin(), batch.end());
    metrics_->SetQueueDepth(static_cast<int>(queue_.size()));
    lock.unlock();
    Execute(std::move(batch));
    lock.lock();
  }
}

void DynamicBatcher::Execute(std::vector<BatchRequest> batch) {
  const auto start = Clock::now();
  std::vector<torch::Tensor> pixels;
  for (const auto& r : batch) pixels.push_back(r.pixels);
  const LoraAdapter* adapter = batch.front().adapter ? batch.front().adapter->adapter.get() : nullptr;
  absl::StatusOr<torch::Tensor> probabilities = classifier_->Classify(torch::stack(pixels), adapter);
  const double inference_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  metrics_->ObserveBatch(static_cast<int>(batch.size()), inference_seconds);
  if (auto in_use = DeviceMemoryInUse(classifier_->model().options().device)) metrics_->SetGpuMemory(*in_use);
  {
    std::lock_guard<std::mutex> lock(mu_);
    executed_ += static_cast<int64_t>(batch.size());
    expected_batch_seconds_ = 0.8 * expected_batch_seconds_ + 0.2 * inference_seconds;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& request = batch[i];
    if (!probabilities.ok()) {
      request.done(probabilities.status());
      continue;
    }
    BatchOutcome outcome;
    outcome.probabilities = (*probabilities)[static_cast<int64_t>(i)];
    outcome.adapter = request.adapter;
    outcome.batch_size = static_cast<int>(batch.size());
    outcome.queue_seconds = std::chrono::duration<double>(start - request.admitted).count();
    outcome.inference_seconds = inference_seconds;
    metrics_->ObserveQueueWait(outcome.queue_seconds);
    request.done(std::move(outcome));
  }
}

}  // namespace medgemma::server
