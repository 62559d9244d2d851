#include "engine/training/training_plan.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace medgemma {

TrainingPlan::TrainingPlan(int64_t num_examples, int micro_batch_size, int accumulation_steps, int epochs,
                           int64_t max_steps, uint64_t seed, bool shuffle)
    : num_examples_(num_examples),
      micro_batch_size_(micro_batch_size),
      accumulation_steps_(accumulation_steps),
      micro_per_epoch_((num_examples + micro_batch_size - 1) / micro_batch_size),
      steps_per_epoch_(std::max<int64_t>(1, (micro_per_epoch_ + accumulation_steps - 1) / accumulation_steps)),
      total_steps_(steps_per_epoch_ * epochs),
      seed_(seed),
      shuffle_(shuffle) {
  if (max_steps > 0) total_steps_ = std::min(total_steps_, max_steps);
}

std::vector<int64_t> TrainingPlan::EpochOrder(int epoch) const {
  std::vector<int64_t> order(num_examples_);
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle_) return order;
  // Own Fisher-Yates over mt19937_64: std::shuffle's use of the engine is library-specific.
  std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = num_examples_ - 1; i > 0; --i) std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
  return order;
}

std::vector<TrainingPlan::MicroBatch> TrainingPlan::ForStep(int64_t step) const {
  const int epoch = EpochOf(step);
  const int64_t first_micro = (step % steps_per_epoch_) * accumulation_steps_;
  const int64_t end_micro = std::min(first_micro + accumulation_steps_, micro_per_epoch_);
  const auto order = EpochOrder(epoch);
  std::vector<MicroBatch> out;
  for (int64_t m = first_micro; m < end_micro; ++m) {
    MicroBatch mb{static_cast<uint64_t>(epoch * micro_per_epoch_ + m), {}};
    for (int64_t i = m * micro_batch_size_; i < std::min((m + 1) * micro_batch_size_, num_examples_); ++i) {
      mb.examples.push_back(order[i]);
    }
    out.push_back(std::move(mb));
  }
  return out;
}

}  // namespace medgemma
