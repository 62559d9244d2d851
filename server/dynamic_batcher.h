// The one thread that runs the model. Requests wait in a bounded queue; a batch is formed from the
// oldest request's adapter group (never mixing adapters or adapter versions) and runs when it is
// full, when it reaches a preferred size, or when its oldest request has waited max_queue_delay
// (Triton's dynamic batcher). Requests whose caller cancelled, or whose deadline falls before a
// batch could finish (judged by the running average of batch time), are answered without ever
// reaching the model. Stop() drains: everything admitted still runs.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/classifier.h"
#include "server/adapter_registry.h"
#include "server/server_config.h"
#include "server/server_metrics.h"

namespace medgemma::server {

using Clock = std::chrono::steady_clock;

struct BatchOutcome {
  torch::Tensor probabilities;  // (labels) float32 on the CPU
  AdapterHandle adapter;        // the version that ran
  int batch_size = 0;
  double queue_seconds = 0, inference_seconds = 0;
};

struct BatchRequest {
  torch::Tensor pixels;   // (C, S, S)
  AdapterHandle adapter;  // resolved at admission; keeps that version alive
  Clock::time_point admitted;
  Clock::time_point deadline = Clock::time_point::max();
  std::function<bool()> cancelled;  // may be empty
  std::function<void(absl::StatusOr<BatchOutcome>)> done;  // called exactly once, on the batcher thread or the caller's
};

class DynamicBatcher {
 public:
  // `expected_batch_seconds`: the first estimate of a batch's run time (the warm-up's).
  DynamicBatcher(const Classifier* classifier, const BatchingConfig& config, ServerMetrics* metrics,
                 double expected_batch_seconds);
  ~DynamicBatcher();

  // RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE once stopping; `done` is not called then.
  absl::Status Submit(BatchRequest request);
  // Finishes every admitted request, then joins the thread. Idempotent.
  void Stop();

  int64_t executed_requests() const;

 private:
  void Run();
  // Removes expired and cancelled requests from the queue (lock held); returns them.
  std::vector<std::pair<BatchRequest, absl::Status>> TakeDead(Clock::time_point now);
  void Execute(std::vector<BatchRequest> batch);

  const Classifier* classifier_;
  const BatchingConfig config_;
  ServerMetrics* metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<BatchRequest> queue_;
  bool stopping_ = false;
  int64_t executed_ = 0;
  double expected_batch_seconds_;  // exponential moving average of Execute's model time
  std::thread thread_;
};

}  // namespace medgemma::server
