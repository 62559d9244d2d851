#include "engine/training/fine_tune_run.h"

#include <absl/strings/str_cat.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>

#include "engine/classifier.h"
#include "engine/device_memory.h"
#include "base/file_util.h"
#include "base/status_macros.h"
#include "engine/training/evaluator.h"
#include "engine/training/initial_adapter.h"
#include "engine/training/lora_trainer.h"
#include "engine/training/lr_schedule.h"
#include "engine/training/training_checkpoint.h"
#include "engine/training/training_plan.h"
#include "engine/training/window_prefetcher.h"

namespace medgemma {
namespace fs = std::filesystem;
using json = nlohmann::json;
namespace {

// Windows decoded ahead of the device: two keep the worker busy through a slow image without
// holding more than two steps of pinned pixels.
constexpr int kPrefetchDepth = 2;

json RunIdentity(const FineTuneSpec& spec) {
  const TrainingOptions& o = spec.options;
  json identity = {{"train_examples", spec.data.train.size()},
                   {"eval_examples", spec.data.eval.size()},
                   {"micro_batch_size", o.micro_batch_size},
                   {"gradient_accumulation_steps", o.gradient_accumulation_steps},
                   {"epochs", o.epochs},
                   {"max_steps", o.max_steps},
                   {"seed", o.seed},
                   {"lora_r", o.lora.r},
                   {"shuffle", o.shuffle}};
  // Only when set, so checkpoints of runs from before the option still resume.
  if (!spec.init_adapter.empty()) identity["init_adapter"] = spec.init_adapter.string();
  return identity;
}

json MetricsJson(const FineTuneSpec& spec, const FineTuneResult& result) {
  const FineTuneProgress& p = result.progress;
  json per_epoch = json::array();
  for (const auto& m : p.per_epoch) per_epoch.push_back(EvalMetricsToJson(m));
  json labels = json::array();
  for (const auto& l : spec.task.labels) labels.push_back(l.name);
  return {{"adapter_name", spec.adapter_name},
          {"labels", labels},
          {"train_examples", spec.data.train.size()},
          {"eval_examples", spec.data.eval.size()},
          {"total_steps", p.total_steps},
          {"samples_per_second", p.samples_per_second},
          {"peak_gpu_allocated_bytes", p.peak_gpu_allocated_bytes},
          {"peak_gpu_reserved_bytes", p.peak_gpu_reserved_bytes},
          {"baseline", p.baseline ? EvalMetricsToJson(*p.baseline) : json()},
          {"per_epoch", per_epoch},
          {"final", per_epoch.empty() ? json() : per_epoch.back()},
          {"step_losses", result.step_losses}};
}

// The adapter directory appears complete or not at all.
absl::Status PublishAdapter(const LoraAdapter& adapter, const fs::path& dir) {
  const fs::path tmp = fs::path(dir.string() + ".tmp");
  RemoveTree(tmp);
  MG_RETURN_IF_ERROR(adapter.Save(tmp));
  RemoveTree(dir);
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("rename ", tmp.string(), ": ", ec.message()));
  return SyncDirectory(dir.parent_path());
}

class Run {
 public:
  Run(const ModelBundle& bundle, const FineTuneSpec& spec, const fs::path& job_dir, const FineTuneCallbacks& callbacks)
      : bundle_(bundle),
        spec_(spec),
        job_dir_(job_dir),
        callbacks_(callbacks),
        pixels_(bundle.preprocess, PixelCache::DefaultBudgetBytes()),
        plan_(static_cast<int64_t>(spec.data.train.size()), spec.options.micro_batch_size,
              spec.options.gradient_accumulation_steps, spec.options.epochs, spec.options.max_steps, spec.options.seed,
              spec.options.shuffle),
        schedule_(CosineSchedule::Create(spec.options.learning_rate, spec.options.warmup_ratio, plan_.total_steps())) {}

  absl::StatusOr<FineTuneResult> Execute() {
    MG_RETURN_IF_ERROR(spec_.options.Validate());
    MG_RETURN_IF_ERROR(spec_.task.Validate());
    if (spec_.data.train.empty() || spec_.data.eval.empty()) {
      return absl::InvalidArgumentError("fine-tune needs non-empty train and eval splits");
    }
    ResetDeviceMemoryPeaks(bundle_.model->options().device);
    MG_ASSIGN_OR_RETURN(Classifier classifier, Classifier::Create(bundle_.model, *bundle_.tokenizer, spec_.task,
                                                                  bundle_.add_bos_token));
    LoraConfig lora = spec_.options.lora;
    lora.base_model_name_or_path = bundle_.dir.string();
    MG_ASSIGN_OR_RETURN(std::shared_ptr<LoraAdapter> adapter,
                        InitialAdapter(lora, spec_.init_adapter, bundle_.model->weights(),
                                       bundle_.model->options().device, spec_.options.seed));
    MG_ASSIGN_OR_RETURN(std::unique_ptr<LoraTrainer> trainer,
                        LoraTrainer::Create(bundle_, spec_.task, spec_.options, adapter));
    MG_RETURN_IF_ERROR(Restore(*adapter, trainer->optimizer()));
    // Started before the baseline evaluation so the first windows are decoded during it.
    WindowPrefetcher windows([this](int64_t step) { return WindowFor(step); }, state_.step, plan_.total_steps(),
                             kPrefetchDepth);
    if (!state_.baseline) {
      MG_ASSIGN_OR_RETURN(EvalMetrics baseline, EvaluateWith(classifier, nullptr));
      state_.baseline = baseline;
      MG_RETURN_IF_ERROR(Checkpoint(*adapter, trainer->optimizer()));
    }
    Report();
    int64_t samples_here = 0;
    double training_seconds = 0;
    while (state_.step < plan_.total_steps()) {
      if (callbacks_.cancelled && callbacks_.cancelled()) return absl::CancelledError("job cancelled");
      const int64_t step = state_.step;
      // Timed from the wait for the window: a data pipeline that falls behind shows in samples/s.
      const auto step_started = std::chrono::steady_clock::now();
      MG_ASSIGN_OR_RETURN(TrainingWindow window, windows.Take(step));
      const double lr = schedule_.LearningRate(step);
      MG_ASSIGN_OR_RETURN(StepResult result, trainer->Step(window, lr));
      training_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - step_started).count();
      samples_here += result.samples;
      ++state_.step;
      state_.step_losses.push_back(result.loss);
      progress_.learning_rate = lr;
      progress_.samples_per_second = samples_here / std::max(training_seconds, 1e-9);
      const int64_t samples_left = (plan_.total_steps() - state_.step) * spec_.options.micro_batch_size *
                                   spec_.options.gradient_accumulation_steps;
      progress_.eta_seconds = samples_left / std::max(progress_.samples_per_second, 1e-9);
      const bool last = state_.step == plan_.total_steps();
      if (plan_.EndsEpoch(step) || last) {
        MG_ASSIGN_OR_RETURN(EvalMetrics metrics, EvaluateWith(classifier, adapter.get()));
        state_.per_epoch.push_back(metrics);
      }
      if (plan_.EndsEpoch(step) || last || state_.step % spec_.options.checkpoint_every_steps == 0) {
        MG_RETURN_IF_ERROR(Checkpoint(*adapter, trainer->optimizer()));
      }
      Report();
    }
    FineTuneResult result{job_dir_ / "adapter", progress_, state_.step_losses};
    MG_RETURN_IF_ERROR(PublishAdapter(*adapter, result.adapter_dir));
    MG_RETURN_IF_ERROR(WriteStringAtomically(job_dir_ / "metrics.json", MetricsJson(spec_, result).dump(2)));
    return result;
  }

 private:
  absl::Status Restore(LoraAdapter& adapter, AdamW& optimizer) {
    MG_ASSIGN_OR_RETURN(std::optional<TrainingProgress> restored,
                        LoadLatestTrainingCheckpoint(job_dir_ / "checkpoints", RunIdentity(spec_), adapter, optimizer));
    if (restored) {
      state_ = *restored;
      progress_.resumed_from_step = state_.step;
    }
    return absl::OkStatus();
  }

  absl::Status Checkpoint(const LoraAdapter& adapter, const AdamW& optimizer) {
    return SaveTrainingCheckpoint(job_dir_ / "checkpoints", RunIdentity(spec_), adapter, optimizer, state_);
  }

  // Runs on the prefetch worker: reads only the plan, the spec and the (thread-safe) pixel cache.
  absl::StatusOr<TrainingWindow> WindowFor(int64_t step) {
    TrainingWindow window;
    for (const auto& micro : plan_.ForStep(step)) {
      std::vector<LabeledImage> images;
      TrainingMicroBatch batch{micro.global_index, {}, {}};
      for (int64_t i : micro.examples) {
        images.push_back(spec_.data.train[i]);
        batch.labels.push_back(spec_.data.train[i].label);
      }
      MG_ASSIGN_OR_RETURN(batch.pixels, pixels_.Batch(images, bundle_.model->options().device));
      window.push_back(std::move(batch));
    }
    return window;
  }

  absl::StatusOr<EvalMetrics> EvaluateWith(const Classifier& classifier, const LoraAdapter* adapter) {
    return Evaluate(classifier, spec_.data.eval, adapter, spec_.options.eval_batch_size, pixels_, callbacks_.cancelled);
  }

  void Report() {
    progress_.total_epochs = spec_.options.epochs;
    progress_.total_steps = plan_.total_steps();
    progress_.step = state_.step;
    progress_.epoch = std::min(spec_.options.epochs, plan_.EpochOf(std::max<int64_t>(0, state_.step - 1)) + 1);
    progress_.train_loss = state_.step_losses.empty() ? 0 : state_.step_losses.back();
    progress_.baseline = state_.baseline;
    progress_.per_epoch = state_.per_epoch;
    if (auto peaks = PeakDeviceMemory(bundle_.model->options().device)) {
      progress_.peak_gpu_allocated_bytes = peaks->allocated_bytes;
      progress_.peak_gpu_reserved_bytes = peaks->reserved_bytes;
    }
    if (callbacks_.on_progress) callbacks_.on_progress(progress_);
  }

  const ModelBundle& bundle_;
  const FineTuneSpec& spec_;
  const fs::path job_dir_;
  const FineTuneCallbacks& callbacks_;
  PixelCache pixels_;
  TrainingPlan plan_;
  CosineSchedule schedule_;
  TrainingProgress state_;
  FineTuneProgress progress_;
};

}  // namespace

absl::StatusOr<FineTuneResult> RunFineTune(const ModelBundle& bundle, const FineTuneSpec& spec, const fs::path& job_dir,
                                           const FineTuneCallbacks& callbacks) {
  Run run(bundle, spec, job_dir, callbacks);
  return run.Execute();
}

}  // namespace medgemma
