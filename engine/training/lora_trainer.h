// One optimizer step of LoRA training on a loaded model: forward and backward over each
// micro-batch of an accumulation window, the loss normalised by the window's target-token count
// (the HF Trainer's num_items_in_batch), gradient clipping, then AdamW. The base weights never
// change; only the adapter's A and B tensors get gradients.
#pragma once

#include <absl/status/statusor.h>

#include <memory>
#include <vector>

#include "engine/lora_adapter.h"
#include "engine/model_bundle.h"
#include "engine/training/adamw.h"
#include "engine/training/dataset.h"
#include "engine/training/pixel_cache.h"
#include "engine/training/training_batch.h"
#include "engine/training/training_options.h"

namespace medgemma {

struct MicroBatchImages {
  uint64_t index = 0;  // the micro-batch's position in the whole run; seeds its dropout
  std::vector<LabeledImage> images;
};

struct StepResult {
  double loss = 0;       // mean over the window's target tokens
  double grad_norm = 0;  // before clipping
  int64_t samples = 0;
};

class LoraTrainer {
 public:
  // `adapter` is trained in place; its tensors must live on the model's device.
  static absl::StatusOr<std::unique_ptr<LoraTrainer>> Create(const ModelBundle& bundle, const Task& task,
                                                             const TrainingOptions& options,
                                                             std::shared_ptr<LoraAdapter> adapter,
                                                             PixelCache* pixels);

  absl::StatusOr<StepResult> Step(const std::vector<MicroBatchImages>& window, double lr);

  AdamW& optimizer() { return *optimizer_; }
  const LoraAdapter& adapter() const { return *adapter_; }

 private:
  LoraTrainer() = default;
  std::shared_ptr<const Gemma3Model> model_;
  TrainingOptions options_;
  std::shared_ptr<LoraAdapter> adapter_;
  PixelCache* pixels_ = nullptr;
  std::unique_ptr<TrainingSequences> sequences_;
  std::unique_ptr<AdamW> optimizer_;
  std::vector<torch::Tensor> params_;
};

}  // namespace medgemma
