#include "engine/training/training_batch.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include "engine/prompt_batch.h"
#include "base/status_macros.h"

namespace medgemma {
namespace {
constexpr int64_t kIgnore = -100;

std::vector<int64_t> Labels(const PromptTokens& tokens, size_t prompt_length, const ModelConfig& config,
                            LossMode loss) {
  std::vector<int64_t> labels(tokens.ids.size(), kIgnore);
  for (size_t t = 0; t < tokens.ids.size(); ++t) {
    const int64_t id = tokens.ids[t];
    const bool in_answer = t >= prompt_length;
    const bool image_part = tokens.token_type_ids[t] == 1 || id == config.boi_token_id;
    if (in_answer || (loss == LossMode::kFullSequence && !image_part)) labels[t] = id;
  }
  return labels;
}
}  // namespace

absl::StatusOr<TrainingSequences> TrainingSequences::Create(const Tokenizer* tokenizer, const ModelConfig& config,
                                                            bool add_bos_token, const Task& task, LossMode loss) {
  MG_ASSIGN_OR_RETURN(ChatPrompt chat, ChatPrompt::Create(tokenizer, config, add_bos_token));
  const std::string prompt = chat.ExpandImage(ChatPrompt::Render(task.prompt));
  const PromptTokens prompt_tokens = chat.Tokenize(prompt);
  TrainingSequences out;
  for (const auto& label : task.labels) {
    // The notebook's target turn: "<answer><end_of_turn>", trailing newline stripped.
    TrainingSequence seq;
    seq.tokens = chat.Tokenize(absl::StrCat(prompt, label.answer, "<end_of_turn>"));
    const bool extends_prompt = seq.tokens.ids.size() > prompt_tokens.ids.size() + 1 &&
                                std::equal(prompt_tokens.ids.begin(), prompt_tokens.ids.end(), seq.tokens.ids.begin());
    if (!extends_prompt || seq.tokens.ids.back() != chat.end_of_turn_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat("label '", label.name, "': the answer does not tokenize as a continuation of the prompt"));
    }
    seq.labels = Labels(seq.tokens, prompt_tokens.ids.size(), config, loss);
    for (size_t t = 1; t < seq.labels.size(); ++t) seq.loss_tokens += seq.labels[t] != kIgnore;
    out.by_label_.push_back(std::move(seq));
  }
  return out;
}

torch::Tensor SummedTokenLoss(const Gemma3Model& model, const std::vector<const TrainingSequence*>& sequences,
                              const torch::Tensor& pixel_values, const LoraContext& lora) {
  std::vector<PromptTokens> prompts;
  int64_t longest = 0;
  for (const auto* s : sequences) {
    prompts.push_back(s->tokens);
    longest = std::max<int64_t>(longest, static_cast<int64_t>(s->labels.size()));
  }
  ModelInputs inputs = BatchPrompts(prompts, model.config().text.pad_token_id);
  inputs.pixel_values = pixel_values;
  // Position t predicts token t + 1: only positions with a target go through the head. They are
  // found on the host, where the labels are, so the step never waits on the device for them.
  std::vector<int64_t> rows, targets;
  for (size_t row = 0; row < sequences.size(); ++row) {
    const auto& l = sequences[row]->labels;
    for (size_t t = 1; t < l.size(); ++t) {
      if (l[t] == kIgnore) continue;
      rows.push_back(static_cast<int64_t>(row) * longest + static_cast<int64_t>(t) - 1);
      targets.push_back(l[t]);
    }
  }
  const auto device = model.options().device;
  auto hidden = model.Hidden(inputs, lora, nullptr);  // (B, longest, D)
  auto picked = hidden.reshape({-1, hidden.size(-1)}).index_select(0, torch::tensor(rows).to(device, /*non_blocking=*/true));
  auto logits = model.Logits(picked).to(torch::kFloat);
  return torch::nn::functional::cross_entropy(logits, torch::tensor(targets).to(device, /*non_blocking=*/true),
                                              torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

}  // namespace medgemma
