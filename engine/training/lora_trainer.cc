#include "engine/training/lora_trainer.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include <cmath>

#include "engine/torch_guard.h"

namespace medgemma {

absl::StatusOr<std::unique_ptr<LoraTrainer>> LoraTrainer::Create(const ModelBundle& bundle, const Task& task,
                                                                 const TrainingOptions& options,
                                                                 std::shared_ptr<LoraAdapter> adapter) {
  MG_RETURN_IF_ERROR(options.Validate());
  MG_ASSIGN_OR_RETURN(TrainingSequences sequences,
                      TrainingSequences::Create(bundle.tokenizer.get(), bundle.model->config(), bundle.add_bos_token,
                                                task, options.loss));
  std::unique_ptr<LoraTrainer> t(new LoraTrainer());
  t->model_ = bundle.model;
  t->options_ = options;
  t->adapter_ = std::move(adapter);
  t->preprocess_ = bundle.preprocess;
  t->sequences_ = std::make_unique<TrainingSequences>(std::move(sequences));
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (auto& [module, w] : t->adapter_->Modules()) {
    w->a.requires_grad_(true);
    w->b.requires_grad_(true);
    named.emplace_back(absl::StrCat(module, ".lora_A"), w->a);
    named.emplace_back(absl::StrCat(module, ".lora_B"), w->b);
    t->params_.push_back(w->a);
    t->params_.push_back(w->b);
  }
  AdamW::Options adam;
  adam.weight_decay = options.weight_decay;
  t->optimizer_ = std::make_unique<AdamW>(std::move(named), adam);
  return t;
}

absl::StatusOr<StepResult> LoraTrainer::Step(const TrainingWindow& window, double lr) {
  StepResult result;
  int64_t window_tokens = 0;
  for (const auto& micro : window) {
    for (int label : micro.labels) window_tokens += sequences_->ForLabel(label).loss_tokens;
  }
  if (window_tokens == 0) return absl::InvalidArgumentError("the step's examples have no target tokens");
  return GuardTorch("training step", [&]() -> absl::StatusOr<StepResult> {
    const auto device = model_->options().device;
    optimizer_->ZeroGrad();
    adapter_->CastForTrainingStep(model_->options().dtype);
    const LoraContext lora{adapter_.get(), /*training=*/true, options_.activation_checkpointing};
    auto loss_sum = torch::zeros({}, torch::TensorOptions(device).dtype(torch::kDouble));
    for (const auto& micro : window) {
      // Dropout masks are a function of (seed, micro-batch): a resumed run draws the same ones.
      torch::manual_seed(options_.seed * 0x9E3779B97F4A7C15ULL + micro.index);
      std::vector<const TrainingSequence*> seqs;
      for (int label : micro.labels) seqs.push_back(&sequences_->ForLabel(label));
      auto pixels = UploadAndNormalizePixels(micro.pixels, device, preprocess_);
      auto loss = SummedTokenLoss(*model_, seqs, pixels, lora) / static_cast<double>(window_tokens);
      loss.backward();
      loss_sum += loss.detach();
      result.samples += static_cast<int64_t>(seqs.size());
    }
    auto grad_norm = options_.max_grad_norm > 0 ? ClipGradNorm(params_, options_.max_grad_norm) : torch::Tensor();
    // The step's one wait on the device: both numbers in one copy.
    auto read = torch::stack({loss_sum, grad_norm.defined() ? grad_norm.to(torch::kDouble) : torch::zeros_like(loss_sum)})
                    .cpu();
    result.loss = read[0].item<double>();
    result.grad_norm = read[1].item<double>();
    if (!std::isfinite(result.loss)) return absl::InternalError(absl::StrCat("training loss is not finite: ", result.loss));
    optimizer_->Step(lr);
    return result;
  });
}

}  // namespace medgemma
