// LoRA training step throughput and memory on random 8-bit images (no decoding: the device side
// of the trainer alone), the reference recipe at a chosen micro-batch, accumulation and
// checkpointing. Prints median ms per step, samples/s and torch's peak allocated / reserved bytes.
//   train_step_bench --model DIR [--micro-batch 1] [--accumulation 8] [--checkpointing on]
//                    [--steps 6] [--warmup 2] [--trace FILE]   (--help)
// --trace writes one more step as a Chrome trace, for tools/perf/summarize_trace.py.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "base/flags.h"
#include "base/status_macros.h"
#include "bench/kineto_trace.h"
#include "engine/device_memory.h"
#include "engine/model_bundle.h"
#include "engine/training/initial_adapter.h"
#include "engine/training/lora_trainer.h"

using namespace medgemma;

namespace {
struct BenchOptions {
  std::string model, trace;
  ModelOptions model_options;
  TrainingOptions training;
  int64_t steps = 0, warmup = 0;
};

absl::StatusOr<BenchOptions> ParseBenchOptions(const std::vector<std::string>& argv) {
  static const FlagSet flags("train_step_bench --model DIR [flags]",
                             {{"model", "DIR", "HF-format checkpoint directory"},
                              {"micro-batch", "N", "images per forward/backward (default 1)"},
                              {"accumulation", "N", "micro-batches per optimizer step (default 8)"},
                              {"checkpointing", "on|off", "activation checkpointing (default on)"},
                              {"steps", "N", "timed optimizer steps (default 6)"},
                              {"warmup", "N", "untimed steps first (default 2)"},
                              {"device", "DEVICE", "cpu | cuda | cuda:N | auto (default)"},
                              {"dtype", "DTYPE", "float32 | bfloat16 | auto (default)"},
                              {"trace", "FILE", "profile one more step into a Chrome trace"}});
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  BenchOptions o;
  MG_ASSIGN_OR_RETURN(o.model, args.Require("model"));
  o.trace = args.Get("trace", "");
  MG_ASSIGN_OR_RETURN(o.model_options, ParseModelOptions(args.Get("device", "auto"), args.Get("dtype", "auto")));
  MG_ASSIGN_OR_RETURN(int64_t micro, args.GetInt("micro-batch", 1));
  MG_ASSIGN_OR_RETURN(int64_t accumulation, args.GetInt("accumulation", 8));
  o.training.micro_batch_size = static_cast<int>(micro);
  o.training.gradient_accumulation_steps = static_cast<int>(accumulation);
  const std::string checkpointing = args.Get("checkpointing", "on");
  if (checkpointing != "on" && checkpointing != "off") return absl::InvalidArgumentError("--checkpointing: on or off");
  o.training.activation_checkpointing = checkpointing == "on";
  MG_ASSIGN_OR_RETURN(o.steps, args.GetInt("steps", 6));
  MG_ASSIGN_OR_RETURN(o.warmup, args.GetInt("warmup", 2));
  if (o.steps <= 0 || o.warmup < 0) return absl::InvalidArgumentError("--steps must be > 0, --warmup >= 0");
  MG_RETURN_IF_ERROR(o.training.Validate());
  return o;
}

// The windows a run would prefetch: pinned uint8 images, labels cycling through the task's.
TrainingWindow RandomWindow(const BenchOptions& o, int64_t size, int64_t num_labels, uint64_t first_index) {
  TrainingWindow window;
  const auto pinned = torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(o.model_options.device.is_cuda());
  for (int m = 0; m < o.training.gradient_accumulation_steps; ++m) {
    TrainingMicroBatch micro{first_index + m, {}, torch::randint(0, 256, {o.training.micro_batch_size, 3, size, size}, pinned)};
    for (int i = 0; i < o.training.micro_batch_size; ++i) micro.labels.push_back(static_cast<int>((m + i) % num_labels));
    window.push_back(std::move(micro));
  }
  return window;
}

absl::Status Run(const BenchOptions& o) {
  MG_ASSIGN_OR_RETURN(ModelBundle bundle, LoadModelBundle(o.model, o.model_options));
  const Task task = DefaultBreakHisTask();
  MG_ASSIGN_OR_RETURN(std::shared_ptr<LoraAdapter> adapter,
                      InitialAdapter(o.training.lora, "", bundle.model->weights(), o.model_options.device, 1));
  MG_ASSIGN_OR_RETURN(std::unique_ptr<LoraTrainer> trainer, LoraTrainer::Create(bundle, task, o.training, adapter));
  const int64_t size = bundle.model->config().vision.image_size;
  const TrainingWindow window = RandomWindow(o, size, static_cast<int64_t>(task.labels.size()), 0);
  ResetDeviceMemoryPeaks(o.model_options.device);
  std::vector<double> ms;
  double loss = 0;
  for (int64_t i = 0; i < o.warmup + o.steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    MG_ASSIGN_OR_RETURN(StepResult step, trainer->Step(window, 1e-4));  // reads the loss: the step has finished
    if (i >= o.warmup) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    loss = step.loss;
  }
  if (!o.trace.empty()) {
    absl::Status traced;
    TraceToChromeJson(o.trace, [&] { traced = trainer->Step(window, 1e-4).status(); });
    MG_RETURN_IF_ERROR(traced);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  const int64_t samples = int64_t{o.training.micro_batch_size} * o.training.gradient_accumulation_steps;
  const auto peaks = PeakDeviceMemory(o.model_options.device).value_or(DeviceMemoryPeaks{});
  std::printf("train_step_bench micro-batch=%d accumulation=%d checkpointing=%s: median %.1f ms/step, %.2f samples/s, "
              "peak allocated %.2f GiB, peak reserved %.2f GiB, last loss %.4f\n",
              o.training.micro_batch_size, o.training.gradient_accumulation_steps,
              o.training.activation_checkpointing ? "on" : "off", median, samples * 1000.0 / median,
              peaks.allocated_bytes / double{1 << 30}, peaks.reserved_bytes / double{1 << 30}, loss);
  return absl::OkStatus();
}
}  // namespace

int main(int argc, char** argv) {
  auto parsed = ParseBenchOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) return ExitForUnparsedArgs("train_step_bench", parsed.status());
  const absl::Status status = Run(*parsed);
  if (!status.ok()) {
    std::cerr << status << "\n";
    return 1;
  }
  return 0;
}
