#include "engine/training/training_options.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <cmath>
#include <string>
#include <vector>

namespace medgemma {

absl::Status TrainingOptions::Validate() const {
  std::vector<std::string> bad;
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) bad.push_back(what);
  };
  require(lora.r > 0, absl::StrCat("lora_r must be > 0 (got ", lora.r, ")"));
  require(lora.alpha > 0 && std::isfinite(lora.alpha), absl::StrCat("lora_alpha must be > 0 (got ", lora.alpha, ")"));
  require(lora.dropout >= 0 && lora.dropout < 1, absl::StrCat("lora_dropout must be in [0, 1) (got ", lora.dropout, ")"));
  require(!lora.target_modules.empty(), "target_modules must not be empty");
  require(epochs > 0, absl::StrCat("epochs must be > 0 (got ", epochs, ")"));
  require(learning_rate > 0 && std::isfinite(learning_rate),
          absl::StrCat("learning_rate must be > 0 (got ", learning_rate, ")"));
  require(micro_batch_size > 0, absl::StrCat("micro_batch_size must be > 0 (got ", micro_batch_size, ")"));
  require(gradient_accumulation_steps > 0,
          absl::StrCat("gradient_accumulation_steps must be > 0 (got ", gradient_accumulation_steps, ")"));
  require(warmup_ratio >= 0 && warmup_ratio < 1, absl::StrCat("warmup_ratio must be in [0, 1) (got ", warmup_ratio, ")"));
  require(max_grad_norm >= 0 && std::isfinite(max_grad_norm),
          absl::StrCat("max_grad_norm must be >= 0 (got ", max_grad_norm, ")"));
  require(max_steps >= 0, absl::StrCat("max_steps must be >= 0 (got ", max_steps, ")"));
  require(weight_decay >= 0 && std::isfinite(weight_decay),
          absl::StrCat("weight_decay must be >= 0 (got ", weight_decay, ")"));
  require(checkpoint_every_steps > 0, absl::StrCat("checkpoint_every_steps must be > 0 (got ", checkpoint_every_steps, ")"));
  require(eval_batch_size > 0, absl::StrCat("eval_batch_size must be > 0 (got ", eval_batch_size, ")"));
  if (bad.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("hyperparameters: ", absl::StrJoin(bad, "; ")));
}

}  // namespace medgemma
