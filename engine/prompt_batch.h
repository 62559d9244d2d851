// Right-padded batches of prompts. Positions count real tokens only, so each row's logits equal a
// single call's.
#pragma once

#include <vector>

#include "engine/chat_prompt.h"
#include "engine/gemma3_model.h"

namespace medgemma {

ModelInputs BatchPrompts(const std::vector<PromptTokens>& prompts, int64_t pad_id);
// Index of each row's last real token, (B) int64.
torch::Tensor LastTokenIndex(const torch::Tensor& attention_mask);
// Each row's hidden state at its last real token: (B, L, D) -> (B, D).
torch::Tensor LastTokenHidden(const torch::Tensor& hidden, const torch::Tensor& attention_mask);

}  // namespace medgemma
