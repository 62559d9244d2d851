// AdamW exactly as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments),
// over named tensors so its state can be checkpointed and restored bit for bit. The update is
// torch's fused multi-tensor kernel (what AdamW(fused=True) runs): a few launches for the ~800
// adapter tensors of the 4B model instead of six each, and no host sync.
#pragma once

#include <absl/status/status.h>
#include <torch/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace medgemma {

class AdamW {
 public:
  struct Options {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0;
  };

  AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, Options options);

  // One update of every parameter with a gradient, at learning rate `lr`. Throws c10::Error.
  void Step(double lr);
  void ZeroGrad();
  int64_t steps() const { return steps_; }

  // exp_avg.<name> and exp_avg_sq.<name> for every parameter.
  std::vector<std::pair<std::string, torch::Tensor>> State() const;
  absl::Status LoadState(const std::map<std::string, torch::Tensor>& state, int64_t steps);

 private:
  struct Slot {
    std::string name;
    torch::Tensor param, exp_avg, exp_avg_sq;
  };
  std::vector<Slot> slots_;
  Options options_;
  int64_t steps_ = 0;
  torch::Tensor step_;  // steps_ as the fused kernel reads it (float32 on the parameters' device)
};

// torch.nn.utils.clip_grad_norm_ (foreach): scales all gradients by min(1, max_norm / (norm + 1e-6))
// and returns the total L2 norm before scaling, as a 0-dim float32 tensor on the gradients' device
// so that reading it is the caller's one sync; undefined when no parameter has a gradient.
torch::Tensor ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace medgemma
