// A whole fine-tune as the reference notebook runs it, made durable: baseline evaluation, LoRA
// training over the plan's steps with an evaluation at every epoch end, checkpoints every N steps
// and at epoch ends, resumption from the latest checkpoint, and the final PEFT adapter plus
// metrics.json. Runs on the calling thread, which owns the model's device for the duration.
#pragma once

#include <absl/status/statusor.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/model_bundle.h"
#include "engine/task.h"
#include "engine/training/dataset.h"
#include "engine/training/eval_metrics.h"
#include "engine/training/training_options.h"

namespace medgemma {

struct FineTuneSpec {
  std::string adapter_name;
  Task task;
  DatasetSplits data;
  TrainingOptions options;
  std::filesystem::path init_adapter;  // empty: a fresh adapter from options.seed
};

struct FineTuneProgress {
  int epoch = 0;  // 1-based epoch the current step belongs to
  int total_epochs = 0;
  int64_t step = 0;  // optimizer steps completed
  int64_t total_steps = 0;
  double train_loss = 0;
  double learning_rate = 0;
  double samples_per_second = 0;
  double eta_seconds = 0;
  int64_t peak_gpu_allocated_bytes = 0;  // since the job started (engine/device_memory.h); 0 on the CPU
  int64_t peak_gpu_reserved_bytes = 0;
  int64_t resumed_from_step = -1;  // -1: started fresh
  std::optional<EvalMetrics> baseline;
  std::vector<EvalMetrics> per_epoch;
};

struct FineTuneCallbacks {
  std::function<void(const FineTuneProgress&)> on_progress;  // after every step and evaluation
  std::function<bool()> cancelled;                           // polled before every step
};

struct FineTuneResult {
  std::filesystem::path adapter_dir;
  FineTuneProgress progress;
  std::vector<double> step_losses;
};

// Files go under `job_dir`: checkpoints/, adapter/ (PEFT format) and metrics.json. A second call
// with the same spec and job_dir resumes from the latest checkpoint. Cancellation returns
// CANCELLED and leaves the latest checkpoint in place.
absl::StatusOr<FineTuneResult> RunFineTune(const ModelBundle& bundle, const FineTuneSpec& spec,
                                           const std::filesystem::path& job_dir, const FineTuneCallbacks& callbacks);

}  // namespace medgemma
