// Image classification as one forward pass: the task prompt after the image, then the logits of
// the next token restricted to the label answers' token ids and softmaxed in float32. Only the
// last position goes through the head, and only the label rows of it.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <memory>
#include <vector>

#include "engine/chat_prompt.h"
#include "engine/gemma3_model.h"
#include "engine/task.h"
#include "engine/tokenizer.h"

namespace medgemma {

class LoraAdapter;

class Classifier {
 public:
  static absl::StatusOr<Classifier> Create(std::shared_ptr<const Gemma3Model> model, const Tokenizer& tokenizer,
                                           Task task, bool add_bos_token);

  // pixel_values (B, C, S, S) as PreprocessImage makes them; returns (B, labels) float32
  // probabilities on the CPU. Every image runs with `adapter` (nullptr: the base model).
  absl::StatusOr<torch::Tensor> Classify(const torch::Tensor& pixel_values, const LoraAdapter* adapter) const;

  const Task& task() const { return task_; }
  const PromptTokens& prompt() const { return prompt_; }
  const std::vector<int64_t>& label_token_ids() const { return label_token_ids_; }
  const Gemma3Model& model() const { return *model_; }

 private:
  std::shared_ptr<const Gemma3Model> model_;
  Task task_;
  PromptTokens prompt_;
  std::vector<int64_t> label_token_ids_;
  torch::Tensor label_rows_;  // label_token_ids_ on the model's device
};

}  // namespace medgemma
