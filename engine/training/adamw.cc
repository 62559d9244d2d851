#include "engine/training/adamw.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include <cmath>

namespace medgemma {

AdamW::AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, Options options) : options_(options) {
  for (auto& [name, param] : params) {
    slots_.push_back({name, param, torch::zeros_like(param), torch::zeros_like(param)});
  }
}

void AdamW::Step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double bias_correction1 = 1 - std::pow(options_.beta1, static_cast<double>(steps_));
  const double bias_correction2_sqrt = std::sqrt(1 - std::pow(options_.beta2, static_cast<double>(steps_)));
  for (auto& slot : slots_) {
    const torch::Tensor& grad = slot.param.grad();
    if (!grad.defined()) continue;
    if (options_.weight_decay != 0) slot.param.mul_(1 - lr * options_.weight_decay);
    slot.exp_avg.lerp_(grad, 1 - options_.beta1);
    slot.exp_avg_sq.mul_(options_.beta2).addcmul_(grad, grad, 1 - options_.beta2);
    auto denom = (slot.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(options_.eps);
    slot.param.addcdiv_(slot.exp_avg, denom, -lr / bias_correction1);
  }
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

double ClipGradNorm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2).to(torch::kFloat));
  }
  if (norms.empty()) return 0;
  auto total = torch::stack(norms).norm(2);
  auto coef = (max_norm / (total + 1e-6)).clamp_max(1.0);
  for (const auto& p : params) {
    if (p.grad().defined()) p.grad().mul_(coef.to(p.grad().device()));
  }
  return total.item<double>();
}

}  // namespace medgemma
