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
      peak_gpu_memory_(prometheus::BuildGauge()
                           .Name("medgemma_trainer_peak_gpu_memory_bytes")
                           .Help("Peak GPU memory of the running job (measure: allocated or reserved, as "
                                 "torch.cuda.max_memory_allocated / max_memory_reserved)")
                           .Register(*registry_)),
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

void TrainerMetrics::ObserveStep(const FineTuneProgress& p) {
  steps_.Increment();
  step_.Set(static_cast<double>(p.step));
  loss_.Set(p.train_loss);
  learning_rate_.Set(p.learning_rate);
  samples_per_second_.Set(p.samples_per_second);
  peak_gpu_memory_.Add({{"measure", "allocated"}}).Set(static_cast<double>(p.peak_gpu_allocated_bytes));
  peak_gpu_memory_.Add({{"measure", "reserved"}}).Set(static_cast<double>(p.peak_gpu_reserved_bytes));
}

void TrainerMetrics::SetEvalAccuracy(const std::string& which, double accuracy) {
  eval_accuracy_.Add({{"which", which}}).Set(accuracy);
}

}  // namespace medgemma::trainer
