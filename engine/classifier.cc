#include "engine/classifier.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include "engine/torch_guard.h"

namespace medgemma {

absl::StatusOr<Classifier> Classifier::Create(std::shared_ptr<const Gemma3Model> model, const Tokenizer& tokenizer,
                                              Task task, bool add_bos_token) {
  MG_RETURN_IF_ERROR(task.Validate());
  MG_ASSIGN_OR_RETURN(ChatPrompt chat, ChatPrompt::Create(&tokenizer, model->config(), add_bos_token));
  Classifier c;
  const std::string expanded = chat.ExpandImage(ChatPrompt::Render(task.prompt));
  c.prompt_ = chat.Tokenize(expanded);
  // A label's token is what the tokenizer makes of its answer written after the prompt.
  for (const auto& label : task.labels) {
    const PromptTokens answered = chat.Tokenize(expanded + label.answer);
    const bool one_more = answered.ids.size() == c.prompt_.ids.size() + 1 &&
                          std::equal(c.prompt_.ids.begin(), c.prompt_.ids.end(), answered.ids.begin());
    if (!one_more) {
      return absl::InvalidArgumentError(absl::StrCat("label '", label.name, "': answer '", label.answer,
                                                     "' is not a single token after the prompt"));
    }
    c.label_token_ids_.push_back(answered.ids.back());
  }
  MG_ASSIGN_OR_RETURN(c.label_rows_, GuardTorch("classifier init", [&]() -> absl::StatusOr<torch::Tensor> {
    return torch::tensor(c.label_token_ids_, torch::kLong).to(model->options().device);
  }));
  c.model_ = std::move(model);
  c.task_ = std::move(task);
  return c;
}

absl::StatusOr<torch::Tensor> Classifier::Classify(const torch::Tensor& pixel_values, const LoraAdapter* adapter) const {
  if (!pixel_values.defined() || pixel_values.dim() != 4 || pixel_values.size(0) == 0) {
    return absl::InvalidArgumentError("Classify needs pixel values of shape (B, C, S, S) with B > 0");
  }
  const int64_t size = model_->config().vision.image_size;
  if (pixel_values.size(2) != size || pixel_values.size(3) != size) {
    return absl::InvalidArgumentError(absl::StrCat("pixel values must be ", size, "x", size));
  }
  auto probabilities = GuardTorch("classify", [&]() -> absl::StatusOr<torch::Tensor> {
    torch::NoGradGuard no_grad;
    const int64_t batch = pixel_values.size(0);
    // Every row holds the same prompt, so the batch needs no padding.
    auto ids = torch::tensor(prompt_.ids, torch::kLong).unsqueeze(0).expand({batch, -1}).contiguous();
    ModelInputs inputs{ids, torch::ones_like(ids), ids.eq(model_->config().image_token_id).to(torch::kLong), pixel_values};
    auto hidden = model_->Hidden(inputs, LoraContext{adapter, false}, nullptr);
    auto last = hidden.select(1, hidden.size(1) - 1);
    auto logits = model_->Logits(last, label_rows_).to(torch::kFloat);
    return torch::softmax(logits, -1).to(torch::kCPU);
  });
  if (probabilities.ok() && !torch::isfinite(*probabilities).all().item<bool>()) {
    // Never hand out NaN as an answer: overflow in the weights (or an adapter) shows up here.
    return absl::InternalError("the model produced non-finite probabilities");
  }
  return probabilities;
}

}  // namespace medgemma
