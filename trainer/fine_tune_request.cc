#include "trainer/fine_tune_request.h"

#include <absl/strings/str_cat.h>

#include <filesystem>

#include "engine/status_macros.h"

namespace medgemma::trainer {
namespace fs = std::filesystem;
namespace {

// Proto3 scalars cannot say "unset": zero means "the configured default", negative is an error
// the options' validation names.
template <typename T, typename U>
void Override(T value, U* field) {
  if (value != 0) *field = static_cast<U>(value);
}

TrainingOptions ResolveHyperparameters(const v1::Hyperparameters& h, const TrainingOptions& defaults) {
  TrainingOptions o = defaults;
  Override(h.lora_r(), &o.lora.r);
  Override(h.lora_alpha(), &o.lora.alpha);
  Override(h.lora_dropout(), &o.lora.dropout);
  if (h.target_modules_size() > 0) o.lora.target_modules.assign(h.target_modules().begin(), h.target_modules().end());
  Override(h.epochs(), &o.epochs);
  Override(h.learning_rate(), &o.learning_rate);
  Override(h.micro_batch_size(), &o.micro_batch_size);
  Override(h.gradient_accumulation_steps(), &o.gradient_accumulation_steps);
  Override(h.warmup_ratio(), &o.warmup_ratio);
  Override(h.max_grad_norm(), &o.max_grad_norm);
  Override(h.seed(), &o.seed);
  Override(h.max_steps(), &o.max_steps);
  if (h.loss() == v1::ANSWER_ONLY) o.loss = LossMode::kAnswerOnly;
  return o;
}

}  // namespace

absl::StatusOr<FineTuneSpec> ResolveFineTuneRequest(const v1::FineTuneRequest& request, const TrainerConfig& config,
                                                    const ModelWeights& base) {
  FineTuneSpec spec;
  MG_RETURN_IF_ERROR(ValidateAdapterName(request.adapter_name()));
  spec.adapter_name = request.adapter_name();
  spec.task = config.task;
  spec.options = ResolveHyperparameters(request.hyperparameters(), config.defaults);
  MG_RETURN_IF_ERROR(spec.options.Validate());
  MG_RETURN_IF_ERROR(ResolveTargetModules(spec.options.lora.target_modules, base).status());
  const auto& promote = request.promote();
  if (promote.min_accuracy() < 0 || promote.min_accuracy() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("promote.min_accuracy must be in [0, 1], got ", promote.min_accuracy()));
  }
  if (promote.enabled() && config.servers.empty()) {
    return absl::InvalidArgumentError("promotion requested but the trainer has no servers configured");
  }
  const std::vector<fs::path> roots(config.data_roots.begin(), config.data_roots.end());
  switch (request.dataset().source_case()) {
    case v1::Dataset::kBreakhis: {
      const auto& b = request.dataset().breakhis();
      BreakHisSource source{b.root(), b.folds_csv(), b.fold() == 0 ? 1 : b.fold(),
                            b.magnification() == 0 ? 100 : b.magnification(), b.balance()};
      MG_ASSIGN_OR_RETURN(spec.data, LoadBreakHis(source, spec.task, roots, spec.options.seed));
      break;
    }
    case v1::Dataset::kManifest: {
      const auto& m = request.dataset().manifest();
      MG_ASSIGN_OR_RETURN(spec.data, LoadManifest({m.train_csv(), m.eval_csv()}, spec.task, roots));
      break;
    }
    default:
      return absl::InvalidArgumentError("dataset: set breakhis or manifest");
  }
  return spec;
}

}  // namespace medgemma::trainer
