// Which examples every optimizer step reads: a seeded shuffle per epoch, cut into micro-batches,
// grouped into accumulation windows (an epoch's last window may be shorter, as in the HF
// Trainer). A pure function of the seed and sizes, so a resumed job reads exactly what the
// uninterrupted one would have.
#pragma once

#include <cstdint>
#include <vector>

namespace medgemma {

class TrainingPlan {
 public:
  TrainingPlan(int64_t num_examples, int micro_batch_size, int accumulation_steps, int epochs, int64_t max_steps,
               uint64_t seed, bool shuffle = true);

  int64_t micro_batches_per_epoch() const { return micro_per_epoch_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t total_steps() const { return total_steps_; }
  int EpochOf(int64_t step) const { return static_cast<int>(step / steps_per_epoch_); }
  bool EndsEpoch(int64_t step) const { return (step + 1) % steps_per_epoch_ == 0; }

  struct MicroBatch {
    uint64_t global_index;         // over the whole run: the seed of this micro-batch's dropout
    std::vector<int64_t> examples;
  };
  std::vector<MicroBatch> ForStep(int64_t step) const;

 private:
  std::vector<int64_t> EpochOrder(int epoch) const;
  int64_t num_examples_;
  int micro_batch_size_, accumulation_steps_;
  int64_t micro_per_epoch_, steps_per_epoch_, total_steps_;
  uint64_t seed_;
  bool shuffle_;
};

}  // namespace medgemma
