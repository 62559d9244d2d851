#include "trainer/trainer_metrics.h"

namespace medgemma::trainer {

TrainerMetrics::TrainerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      jobs_(prometheus::BuildGauge().Name("medgemma_trainer_jobs").Help("Fine-tune jobs by state").Register(*registry_)),
      steps_(prometheus::BuildCounter()
                 .Name("medgemma_trainer_steps_total")
                 .Help("Optimizer steps taken by this process")
                 .Register(*registry_)
                 .Add({})),
      step_(prometheus::BuildGauge()
                .Name("medgemma_trainer_step")
                .Help("Optimizer step of the running job")
                .Register(*registry_)
                .Add({})),
      loss_(prometheus::BuildGauge()
                .Name("medgemma_trainer_loss")
                .Help("Training loss of the latest step")
                .Register(*registry_)
                .Add({})),
      learning_rate_(prometheus::BuildGauge()
                         .Name("medgemma_trainer_learning_rate")
                         .Help("Learning rate of the latest step")
                         .Register(*registry_)
                         .Add({})),
      samples_per_second_(prometheus::BuildGauge()
                              .Name("medgemma_trainer_samples_per_second")
                              .Help("Training throughput of the running job")
                              .Register(*registry_)
                              .Add({})),
      eval_accuracy_(prometheus::BuildGauge()
                         .Name("medgemma_trainer_eval_accuracy")
                         .Help("Eval-split accuracy of the latest job (which: baseline or latest)")
                         .Register(*registry_)),
      promotions_(prometheus::BuildCounter()
                      .Name("medgemma_trainer_promotions_total")
                      .Help("Promotion attempts by outcome: promoted, refused by the gate, failed on a server")
                      .Register(*registry_)) {
  // Every outcome from zero, so that increase() sees the first failure.
  for (const char* outcome : {"promoted", "refused", "failed"}) promotions_.Add({{"outcome", outcome}});
}

void TrainerMetrics::SetJobsByState(const std::map<std::string, int>& counts) {
  for (const auto& [state, count] : counts) jobs_.Add({{"state", state}}).Set(count);
}

void TrainerMetrics::ObserveStep(int64_t step, double loss, double learning_rate, double samples_per_second) {
  steps_.Increment();
  step_.Set(static_cast<double>(step));
  loss_.Set(loss);
  learning_rate_.Set(learning_rate);
  samples_per_second_.Set(samples_per_second);
}

void TrainerMetrics::SetEvalAccuracy(const std::string& which, double accuracy) {
  eval_accuracy_.Add({{"which", which}}).Set(accuracy);
}

}  // namespace medgemma::trainer
