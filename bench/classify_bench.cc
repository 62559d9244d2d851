// Classify throughput: one batch of B preprocessed-size random images, timed over repeated runs
// after warm-up, with a device sync around each run. Prints median and p90 ms per batch.
//   classify_bench --model DIR [--batch 8] [--iters 20] [--warmup 3] [--adapter DIR] [--trace FILE]   (--help)
// --trace writes one more batch as a Chrome trace (kernel times), for tools/perf/summarize_trace.py.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "base/flags.h"
#include "base/status_macros.h"
#include "bench/kineto_trace.h"
#include "engine/classifier.h"
#include "engine/lora_adapter.h"
#include "engine/model_bundle.h"

using namespace medgemma;

namespace {
void Sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

struct BenchOptions {
  std::string model, adapter, trace;
  ModelOptions model_options;
  int64_t batch = 0, iters = 0, warmup = 0;
};

absl::StatusOr<BenchOptions> ParseBenchOptions(const std::vector<std::string>& argv) {
  static const FlagSet flags("classify_bench --model DIR [flags]",
                             {{"model", "DIR", "HF-format checkpoint directory"},
                              {"batch", "N", "images per batch (default 8)"},
                              {"iters", "N", "timed batches (default 20)"},
                              {"warmup", "N", "untimed batches first (default 3)"},
                              {"device", "DEVICE", "cpu | cuda | cuda:N | auto (default)"},
                              {"dtype", "DTYPE", "float32 | bfloat16 | float16 | auto (default)"},
                              {"attention", "IMPL", "sdpa | eager | auto (default)"},
                              {"adapter", "DIR", "run every batch with this peft LoRA adapter"},
                              {"trace", "FILE", "profile one more batch into a Chrome trace"}});
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  BenchOptions o;
  MG_ASSIGN_OR_RETURN(o.model, args.Require("model"));
  o.adapter = args.Get("adapter", "");
  o.trace = args.Get("trace", "");
  MG_ASSIGN_OR_RETURN(o.model_options, ParseModelOptions(args.Get("device", "auto"), args.Get("dtype", "auto"),
                                                         args.Get("attention", "auto")));
  MG_ASSIGN_OR_RETURN(o.batch, args.GetInt("batch", 8));
  MG_ASSIGN_OR_RETURN(o.iters, args.GetInt("iters", 20));
  MG_ASSIGN_OR_RETURN(o.warmup, args.GetInt("warmup", 3));
  if (o.batch <= 0 || o.iters <= 0 || o.warmup < 0) {
    return absl::InvalidArgumentError("--batch and --iters must be > 0, --warmup >= 0");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = ParseBenchOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) return ExitForUnparsedArgs("classify_bench", parsed.status());
  const ModelOptions* options = &parsed->model_options;
  auto bundle = LoadModelBundle(parsed->model, *options);
  if (!bundle.ok()) {
    std::cerr << bundle.status() << "\n";
    return 1;
  }
  auto classifier = Classifier::Create(bundle->model, *bundle->tokenizer, DefaultBreakHisTask(), bundle->add_bos_token);
  if (!classifier.ok()) {
    std::cerr << classifier.status() << "\n";
    return 1;
  }
  std::shared_ptr<const LoraAdapter> adapter;
  if (!parsed->adapter.empty()) {
    auto loaded = LoraAdapter::Load(parsed->adapter, bundle->model->weights(), options->device);
    if (!loaded.ok()) {
      std::cerr << loaded.status() << "\n";
      return 1;
    }
    adapter = *std::move(loaded);
  }
  const int64_t batch = parsed->batch, iters = parsed->iters, warmup = parsed->warmup;
  const int64_t size = bundle->model->config().vision.image_size;
  auto pixels = (torch::rand({batch, 3, size, size}) * 2 - 1).to(options->device);
  std::vector<double> ms;
  for (int64_t i = 0; i < warmup + iters; ++i) {
    Sync(options->device);
    const auto start = std::chrono::steady_clock::now();
    auto probs = classifier->Classify(pixels, adapter.get());
    Sync(options->device);
    if (!probs.ok()) {
      std::cerr << probs.status() << "\n";
      return 1;
    }
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  if (!parsed->trace.empty()) {
    TraceToChromeJson(parsed->trace, [&] {
      (void)classifier->Classify(pixels, adapter.get());
      Sync(options->device);
    });
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2], p90 = ms[std::min(ms.size() - 1, ms.size() * 9 / 10)];
  std::printf("classify_bench model=%s device=%s dtype=%s batch=%ld prompt_tokens=%zu adapter=%s: median %.2f ms/batch, p90 %.2f ms, %.1f images/s\n",
              parsed->model.c_str(), options->device.str().c_str(), DtypeName(options->dtype).c_str(),
              static_cast<long>(batch), classifier->prompt().ids.size(),
              adapter ? parsed->adapter.c_str() : "none", median, p90, batch * 1000.0 / median);
  return 0;
}
