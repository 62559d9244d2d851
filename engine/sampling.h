// Choosing the next token from logits, per request: greedy by default, or temperature and top-p
// (nucleus) sampling driven by the request's own seeded generator. Each row's draw depends only on
// its logits and its own generator, so a request samples the same tokens alone or in any batch.
#pragma once

#include <absl/status/status.h>
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace medgemma {

struct SamplingParams {
  double temperature = 0;  // 0: greedy (argmax); otherwise logits / temperature
  double top_p = 1;        // keep the most likely tokens whose mass before them is below top_p
  uint64_t seed = 0;

  absl::Status Validate() const;
};

// One request's sampling state. Draws one uniform number per token on the host from a CPU
// generator and turns it into a token on the logits' device (inverse CDF over the sorted,
// truncated distribution), so no per-request generator has to live on the accelerator.
class TokenSampler {
 public:
  explicit TokenSampler(const SamplingParams& params);

  const SamplingParams& params() const { return params_; }
  bool greedy() const { return params_.temperature == 0; }
  // The next uniform number in [0, 1) of this request's stream.
  double NextUniform();

 private:
  SamplingParams params_;
  at::Generator generator_;
};

// The next token of each row of `logits` (R, V) by samplers[r]; host int64 (R). Throws c10::Error
// (callers are inside GuardTorch).
torch::Tensor SampleTokens(const torch::Tensor& logits, const std::vector<TokenSampler*>& samplers);

}  // namespace medgemma
