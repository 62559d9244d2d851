// transformers' get_cosine_schedule_with_warmup as the HF Trainer sets it up: linear warmup over
// ceil(warmup_ratio * total) steps, then half a cosine down to 0.
#pragma once

#include <cstdint>

namespace medgemma {

struct CosineSchedule {
  double peak_lr = 0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;

  static CosineSchedule Create(double peak_lr, double warmup_ratio, int64_t total_steps);
  // The learning rate of optimizer step `step` (0-based).
  double LearningRate(int64_t step) const;
};

}  // namespace medgemma
