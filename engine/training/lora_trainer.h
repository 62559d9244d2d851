// One optimizer step of LoRA training on a loaded model: forward and backward over each
// micro-batch of an accumulation window, the loss normalised by the window's target-token count
// (the HF Trainer's num_items_in_batch), gradient clipping, then AdamW. The base weights never
// change; only the adapter's A and B tensors get gradients. The host waits for the device once a
// step, to read the loss and gradient norm before the update (a non-finite loss leaves the
// adapter untouched); everything else is queued without waiting.
#pragma once

#include <absl/status/statusor.h>

#include <memory>
#include <vector>

#include "engine/lora_adapter.h"
#include "engine/model_bundle.h"
#include "engine/training/adamw.h"
#include "engine/image_preprocessor.h"
#include "engine/training/training_batch.h"
#include "engine/training/training_options.h"
#include "engine/training/training_window.h"

namespace medgemma {

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
                                                             std::shared_ptr<LoraAdapter> adapter);

  absl::StatusOr<StepResult> Step(const TrainingWindow& window, double lr);

  AdamW& optimizer() { return *optimizer_; }
  const LoraAdapter& adapter() const { return *adapter_; }

 private:
  LoraTrainer() = default;
  std::shared_ptr<const Gemma3Model> model_;
  TrainingOptions options_;
  std::shared_ptr<LoraAdapter> adapter_;
  PreprocessConfig preprocess_;
  std::unique_ptr<TrainingSequences> sequences_;
  std::unique_ptr<AdamW> optimizer_;
  std::vector<torch::Tensor> params_;
};

}  // namespace medgemma
