// What one training example feeds the model: the notebook's full conversation (prompt, the
// label's answer, <end_of_turn>) and the labels the loss reads, plus the batched loss itself.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <vector>

#include "engine/chat_prompt.h"
#include "engine/gemma3_model.h"
#include "engine/task.h"
#include "engine/training/training_options.h"

namespace medgemma {

struct TrainingSequence {
  PromptTokens tokens;
  std::vector<int64_t> labels;  // aligned with tokens.ids, -100 where no loss is taken (HF's convention)
  int64_t loss_tokens = 0;      // targets the shifted loss counts
};

class TrainingSequences {
 public:
  static absl::StatusOr<TrainingSequences> Create(const Tokenizer* tokenizer, const ModelConfig& config,
                                                  bool add_bos_token, const Task& task, LossMode loss);
  // Every image of a class shares the same token sequence.
  const TrainingSequence& ForLabel(int label) const { return by_label_[label]; }

 private:
  std::vector<TrainingSequence> by_label_;
};

// Sum over the batch of the next-token cross-entropy at every labelled position (float32), with
// the head computed only at those positions. Throws c10::Error; call inside GuardTorch.
torch::Tensor SummedTokenLoss(const Gemma3Model& model, const std::vector<const TrainingSequence*>& sequences,
                              const torch::Tensor& pixel_values, const LoraContext& lora);

}  // namespace medgemma
