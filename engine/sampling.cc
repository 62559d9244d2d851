#include "engine/sampling.h"

#include <ATen/CPUGeneratorImpl.h>
#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include <cmath>

namespace medgemma {

absl::Status SamplingParams::Validate() const {
  if (!std::isfinite(temperature) || temperature < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("temperature must be finite and >= 0 (0 is greedy), got ", temperature));
  }
  if (!(top_p > 0 && top_p <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("top_p must be in (0, 1], got ", top_p));
  }
  return absl::OkStatus();
}

TokenSampler::TokenSampler(const SamplingParams& params)
    : params_(params), generator_(at::make_generator<at::CPUGeneratorImpl>(params.seed)) {}

double TokenSampler::NextUniform() {
  return torch::rand({1}, generator_, torch::TensorOptions().dtype(torch::kDouble)).item<double>();
}

torch::Tensor SampleTokens(const torch::Tensor& logits, const std::vector<TokenSampler*>& samplers) {
  const int64_t rows = logits.size(0);
  TORCH_CHECK(static_cast<int64_t>(samplers.size()) == rows, "one sampler per row of logits");
  auto greedy_ids = logits.argmax(-1);
  std::vector<float> temperature(rows, 1), top_p(rows, 1);
  std::vector<double> uniform(rows, 0);
  std::vector<uint8_t> sampled(rows, 0);
  bool any_sampled = false;
  for (int64_t r = 0; r < rows; ++r) {
    if (samplers[r]->greedy()) continue;
    any_sampled = true;
    sampled[r] = 1;
    temperature[r] = static_cast<float>(samplers[r]->params().temperature);
    top_p[r] = static_cast<float>(samplers[r]->params().top_p);
    uniform[r] = samplers[r]->NextUniform();
  }
  if (!any_sampled) return greedy_ids.to(torch::kCPU);
  const auto device = logits.device();
  auto column = [&](auto& values, torch::ScalarType type) {
    return torch::tensor(values, torch::TensorOptions().dtype(type)).to(device).view({rows, 1});
  };
  auto probs = torch::softmax(logits.to(torch::kFloat) / column(temperature, torch::kFloat), -1);
  // Stable, so ties order the same in every batch.
  auto [sorted, order] = probs.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true);
  // transformers' top-p: drop the tail whose cumulative mass is beyond top_p; the first token stays.
  auto kept = sorted * ((sorted.cumsum(-1) - sorted) < column(top_p, torch::kFloat));
  auto cumulative = kept.to(torch::kDouble).cumsum(-1);
  auto target = column(uniform, torch::kDouble) * cumulative.narrow(-1, cumulative.size(-1) - 1, 1);
  auto last_kept = (kept > 0).sum(-1, /*keepdim=*/true).clamp_min(1) - 1;
  auto pick = torch::minimum(cumulative.le(target).sum(-1, /*keepdim=*/true), last_kept);
  auto sampled_ids = order.gather(-1, pick).squeeze(-1);
  auto is_sampled = torch::tensor(sampled).to(device, torch::kBool);
  return torch::where(is_sampled, sampled_ids, greedy_ids).to(torch::kCPU);
}

}  // namespace medgemma
