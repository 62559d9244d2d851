#include "engine/training/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace medgemma {

CosineSchedule CosineSchedule::Create(double peak_lr, double warmup_ratio, int64_t total_steps) {
  return {peak_lr, static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps))), total_steps};
}

double CosineSchedule::LearningRate(int64_t step) const {
  if (step < warmup_steps) return peak_lr * static_cast<double>(step) / std::max<int64_t>(1, warmup_steps);
  const double progress =
      static_cast<double>(step - warmup_steps) / static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  return peak_lr * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace medgemma
