// Greedy decoding with a preallocated KV cache: free-text answers, and the reference notebook's
// generate-then-parse baseline.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <vector>

#include "engine/chat_prompt.h"
#include "engine/gemma3_model.h"

namespace medgemma {

class LoraAdapter;

struct GenerationOptions {
  int64_t max_new_tokens = 16;
  std::vector<int64_t> stop_ids;  // generation of a row ends after it emits one of these
};

// New token ids per prompt (stop token included when reached). pixel_values holds one image per
// image placeholder run, across the prompts in order.
absl::StatusOr<std::vector<std::vector<int64_t>>> GenerateGreedy(const Gemma3Model& model,
                                                                 const std::vector<PromptTokens>& prompts,
                                                                 const torch::Tensor& pixel_values,
                                                                 const LoraAdapter* adapter,
                                                                 const GenerationOptions& options);

}  // namespace medgemma
