#include "engine/training/lora_trainer.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include <cmath>

#include "engine/torch_guard.h"

namespace medgemma {

absl::StatusOr<std::unique_ptr<LoraTrainer>> LoraTrainer::Create(const ModelBundle& bundle, const Task& task,
                                                                 const TrainingOptions& options,
                                                                 std::shared_ptr<LoraAdapter> adapter,
                                                                 PixelCache* pixels) {
  MG_RETURN_IF_ERROR(options.Validate());
  MG_ASSIGN_OR_RETURN(TrainingSequences sequences,
                      TrainingSequences::Create(bundle.tokenizer.get(), bundle.model->config(), bundle.add_bos_token,
                                                task, options.loss));
  std::unique_ptr<LoraTrainer> t(new LoraTrainer());
  t->model_ = bundle.model;
  t->options_ = options;
  t->adapter_ = std::move(adapter);
  t->pixels_ = pixels;
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

absl::StatusOr<StepResult> LoraTrainer::Step(const std::vector<MicroBatchImages>& window, double lr) {
  StepResult result;
  int64_t window_tokens = 0;
  for (const auto& micro : window) {
    for (const auto& image : micro.images) window_tokens += sequences_->ForLabel(image.label).loss_tokens;
  }
  if (window_tokens == 0) return absl::InvalidArgumentError("the step's examples have no target tokens");
  std::vector<torch::Tensor> pixels;
  for (const auto& micro : window) {
    MG_ASSIGN_OR_RETURN(torch::Tensor p, pixels_->Batch(micro.images));
    pixels.push_back(p);
  }
  return GuardTorch("training step", [&]() -> absl::StatusOr<StepResult> {
    optimizer_->ZeroGrad();
    const LoraContext lora{adapter_.get(), /*training=*/true, options_.activation_checkpointing};
    double loss_sum = 0;
    for (size_t m = 0; m < window.size(); ++m) {
      // Dropout masks are a function of (seed, micro-batch): a resumed run draws the same ones.
      torch::manual_seed(options_.seed * 0x9E3779B97F4A7C15ULL + window[m].index);
      std::vector<const TrainingSequence*> seqs;
      for (const auto& image : window[m].images) seqs.push_back(&sequences_->ForLabel(image.label));
      auto loss = SummedTokenLoss(*model_, seqs, pixels[m], lora) / static_cast<double>(window_tokens);
      loss.backward();
      loss_sum += loss.item<double>();
      result.samples += static_cast<int64_t>(seqs.size());
    }
    if (!std::isfinite(loss_sum)) return absl::InternalError(absl::StrCat("training loss is not finite: ", loss_sum));
    result.loss = loss_sum;
    result.grad_norm = options_.max_grad_norm > 0 ? ClipGradNorm(params_, options_.max_grad_norm) : 0;
    optimizer_->Step(lr);
    return result;
  });
}

}  // namespace medgemma
