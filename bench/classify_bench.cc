// Classify throughput: one batch of B preprocessed-size random images, timed over repeated runs
// after warm-up, with a device sync around each run. Prints median and p90 ms per batch.
//   classify_bench --model DIR [--batch 8] [--iters 20] [--warmup 3] [--device auto] [--dtype auto]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "client/cli_args.h"
#include "engine/classifier.h"
#include "engine/model_bundle.h"

namespace {
void Sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}
}  // namespace

int main(int argc, char** argv) {
  using namespace medgemma;
  auto args = cli::Args::Parse(std::vector<std::string>(argv + 1, argv + argc),
                               {"model", "batch", "iters", "warmup", "device", "dtype", "attention"}, {});
  if (!args.ok()) {
    std::cerr << args.status() << "\n";
    return 2;
  }
  auto options = ParseModelOptions(args->Get("device", "auto"), args->Get("dtype", "auto"), args->Get("attention", "auto"));
  if (!options.ok()) {
    std::cerr << options.status() << "\n";
    return 2;
  }
  auto bundle = LoadModelBundle(args->Get("model"), *options);
  if (!bundle.ok()) {
    std::cerr << bundle.status() << "\n";
    return 1;
  }
  auto classifier = Classifier::Create(bundle->model, *bundle->tokenizer, DefaultBreakHisTask(), bundle->add_bos_token);
  if (!classifier.ok()) {
    std::cerr << classifier.status() << "\n";
    return 1;
  }
  const int64_t batch = args->GetInt("batch", 8).value_or(8), iters = args->GetInt("iters", 20).value_or(20),
                warmup = args->GetInt("warmup", 3).value_or(3);
  const int64_t size = bundle->model->config().vision.image_size;
  auto pixels = (torch::rand({batch, 3, size, size}) * 2 - 1).to(options->device);
  std::vector<double> ms;
  for (int64_t i = 0; i < warmup + iters; ++i) {
    Sync(options->device);
    const auto start = std::chrono::steady_clock::now();
    auto probs = classifier->Classify(pixels, nullptr);
    Sync(options->device);
    if (!probs.ok()) {
      std::cerr << probs.status() << "\n";
      return 1;
    }
    if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2], p90 = ms[std::min(ms.size() - 1, ms.size() * 9 / 10)];
  std::printf("classify_bench model=%s device=%s dtype=%s batch=%ld prompt_tokens=%zu: median %.2f ms/batch, p90 %.2f ms, %.1f images/s\n",
              args->Get("model").c_str(), options->device.str().c_str(), DtypeName(options->dtype).c_str(),
              static_cast<long>(batch), classifier->prompt().ids.size(), median, p90, batch * 1000.0 / median);
  return 0;
}
