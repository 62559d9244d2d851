// Prometheus metrics of medgemma-trainer: jobs by state, promotions by outcome, and the running
// job's step, loss, learning rate, throughput, peak GPU memory and latest evaluation.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>

#include "engine/training/fine_tune_run.h"

namespace medgemma::trainer {

class TrainerMetrics {
 public:
  TrainerMetrics();

  // What the service host exposes on /metrics.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  void SetJobsByState(const std::map<std::string, int>& counts);
  void ObserveStep(const FineTuneProgress& progress);
  void SetEvalAccuracy(const std::string& which, double accuracy);
  // outcome: promoted | refused (the gate said no) | failed (a server could not take it)
  void CountPromotion(const std::string& outcome) { promotions_.Add({{"outcome", outcome}}).Increment(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& jobs_;
  prometheus::Counter& steps_;
  prometheus::Gauge& step_;
  prometheus::Gauge& loss_;
  prometheus::Gauge& learning_rate_;
  prometheus::Gauge& samples_per_second_;
  prometheus::Family<prometheus::Gauge>& peak_gpu_memory_;
  prometheus::Family<prometheus::Gauge>& eval_accuracy_;
  prometheus::Family<prometheus::Counter>& promotions_;
};

}  // namespace medgemma::trainer
