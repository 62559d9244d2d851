#include "engine/prompt_batch.h"

#include <torch/torch.h>

namespace medgemma {

ModelInputs BatchPrompts(const std::vector<PromptTokens>& prompts, int64_t pad_id) {
  int64_t longest = 0;
  for (const auto& p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.ids.size()));
  const int64_t batch = static_cast<int64_t>(prompts.size());
  ModelInputs inputs;
  inputs.input_ids = torch::full({batch, longest}, pad_id, torch::kLong);
  inputs.attention_mask = torch::zeros({batch, longest}, torch::kLong);
  inputs.token_type_ids = torch::zeros({batch, longest}, torch::kLong);
  for (int64_t row = 0; row < batch; ++row) {
    const auto& p = prompts[row];
    const int64_t n = static_cast<int64_t>(p.ids.size());
    if (n == 0) continue;
    inputs.input_ids[row].narrow(0, 0, n).copy_(torch::tensor(p.ids, torch::kLong));
    inputs.token_type_ids[row].narrow(0, 0, n).copy_(torch::tensor(p.token_type_ids, torch::kLong));
    inputs.attention_mask[row].narrow(0, 0, n).fill_(1);
  }
  return inputs;
}

torch::Tensor LastTokenIndex(const torch::Tensor& attention_mask) {
  return (attention_mask.to(torch::kLong).sum(1) - 1).clamp_min(0);
}

torch::Tensor LastTokenHidden(const torch::Tensor& hidden, const torch::Tensor& attention_mask) {
  auto index = LastTokenIndex(attention_mask).to(hidden.device()).view({-1, 1, 1}).expand({-1, 1, hidden.size(2)});
  return hidden.gather(1, index).squeeze(1);
}

}  // namespace medgemma
