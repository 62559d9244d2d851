#include "engine/training/adamw.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>


namespace medgemma {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, Options options) : options_(options) {
  for (auto& [name, param] : params) {
    slots_.push_back({name, param, torch::zeros_like(param), torch::zeros_like(param)});
  }
  const auto device = slots_.empty() ? torch::Device(torch::kCPU) : slots_.front().param.device();
  step_ = torch::zeros({}, torch::TensorOptions(device).dtype(torch::kFloat));
}

void AdamW::Step(double lr) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
  for (auto& slot : slots_) {
    if (!slot.param.grad().defined()) continue;
    params.push_back(slot.param);
    grads.push_back(slot.param.grad());
    exp_avgs.push_back(slot.exp_avg);
    exp_avg_sqs.push_back(slot.exp_avg_sq);
  }
  ++steps_;
  step_.fill_(static_cast<double>(steps_));
  if (params.empty()) return;
  // Every parameter shares the one step count; the kernel only reads it.
  const std::vector<torch::Tensor> steps(params.size(), step_);
  at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr, options_.beta1,
                    options_.beta2, options_.weight_decay, options_.eps, /*amsgrad=*/false, /*maximize=*/false);
}

void AdamW::ZeroGrad() {
  for (auto& slot : slots_) {
    if (slot.param.grad().defined()) slot.param.mutable_grad() = torch::Tensor();
  }
}

std::vector<std::pair<std::string, torch::Tensor>> AdamW::State() const {
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& slot : slots_) {
    state.emplace_back(absl::StrCat("exp_avg.", slot.name), slot.exp_avg);
    state.emplace_back(absl::StrCat("exp_avg_sq.", slot.name), slot.exp_avg_sq);
  }
  return state;
}

absl::Status AdamW::LoadState(const std::map<std::string, torch::Tensor>& state, int64_t steps) {
  torch::NoGradGuard no_grad;
  for (auto& slot : slots_) {
    for (auto [prefix, target] : {std::pair{"exp_avg.", &slot.exp_avg}, std::pair{"exp_avg_sq.", &slot.exp_avg_sq}}) {
      auto it = state.find(absl::StrCat(prefix, slot.name));
      if (it == state.end() || !it->second.sizes().equals(target->sizes())) {
        return absl::DataLossError(absl::StrCat("optimizer state lacks a matching ", prefix, slot.name));
      }
      target->copy_(it->second);
    }
  }
  steps_ = steps;
  return absl::OkStatus();
}

torch::Tensor ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return {};
  auto total = torch::stack(at::_foreach_norm(grads, 2)).norm(2);
  at::_foreach_mul_(grads, (max_norm / (total + 1e-6)).clamp_max(1.0));
  return total;
}

}  // namespace medgemma
