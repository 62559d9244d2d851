#include "trainer/fine_tune_request.h"

#include <absl/strings/str_cat.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>

#include "base/status_macros.h"
#include "engine/lora_adapter.h"
#include "engine/training/initial_adapter.h"
#include "trainer/proto_text.h"

namespace medgemma::trainer {
namespace fs = std::filesystem;
namespace {

// The decimal a person wrote, not float's nearest binary value widened: 0.1f is 0.1, so that
// e.g. ceil(warmup_ratio * steps) agrees with trainers that read the same text as a double.
double Decimal(float value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof(text) - 1, value).ptr;
  *end = '\0';
  return std::strtod(text, nullptr);
}

absl::StatusOr<LossMode> ToLossMode(v1::LossMode loss, absl::string_view where) {
  switch (loss) {
    case v1::FULL_SEQUENCE:
      return LossMode::kFullSequence;
    case v1::ANSWER_ONLY:
      return LossMode::kAnswerOnly;
    default:
      return absl::InvalidArgumentError(absl::StrCat(where, ".loss: unknown value ", static_cast<int>(loss),
                                                     "; allowed: ", EnumChoices(v1::LossMode_descriptor())));
  }
}

absl::StatusOr<DatasetSplits> LoadDataset(const v1::Dataset& dataset, const Task& task,
                                          const std::vector<fs::path>& roots, uint64_t seed) {
  switch (dataset.source_case()) {
    case v1::Dataset::kBreakhis: {
      const auto& b = dataset.breakhis();
      const BreakHisSource source{b.root(), b.folds_csv(), b.has_fold() ? b.fold() : 1,
                                  b.has_magnification() ? b.magnification() : 100, !b.has_balance() || b.balance()};
      return LoadBreakHis(source, task, roots, seed);
    }
    case v1::Dataset::kManifest:
      return LoadManifest({dataset.manifest().train_csv(), dataset.manifest().eval_csv()}, task, roots);
    default:
      return absl::InvalidArgumentError("dataset: set breakhis or manifest");
  }
}

}  // namespace

absl::Status ApplyHyperparameters(const v1::Hyperparameters& h, absl::string_view where, TrainingOptions* o) {
  if (h.has_lora_r()) o->lora.r = h.lora_r();
  if (h.has_lora_alpha()) o->lora.alpha = Decimal(h.lora_alpha());
  if (h.has_lora_dropout()) o->lora.dropout = Decimal(h.lora_dropout());
  if (h.target_modules_size() > 0) o->lora.target_modules.assign(h.target_modules().begin(), h.target_modules().end());
  if (h.has_epochs()) o->epochs = h.epochs();
  if (h.has_learning_rate()) o->learning_rate = Decimal(h.learning_rate());
  if (h.has_micro_batch_size()) o->micro_batch_size = h.micro_batch_size();
  if (h.has_gradient_accumulation_steps()) o->gradient_accumulation_steps = h.gradient_accumulation_steps();
  if (h.has_warmup_ratio()) o->warmup_ratio = Decimal(h.warmup_ratio());
  if (h.has_max_grad_norm()) o->max_grad_norm = Decimal(h.max_grad_norm());
  if (h.has_seed()) {
    if (h.seed() < 0) return absl::InvalidArgumentError(absl::StrCat(where, ".seed must be >= 0 (got ", h.seed(), ")"));
    o->seed = static_cast<uint64_t>(h.seed());
  }
  if (h.has_loss()) { MG_ASSIGN_OR_RETURN(o->loss, ToLossMode(h.loss(), where)); }
  if (h.has_max_steps()) o->max_steps = h.max_steps();
  if (h.has_weight_decay()) o->weight_decay = Decimal(h.weight_decay());
  if (h.has_shuffle()) o->shuffle = h.shuffle();
  if (h.has_activation_checkpointing()) o->activation_checkpointing = h.activation_checkpointing();
  if (h.has_checkpoint_every_steps()) o->checkpoint_every_steps = h.checkpoint_every_steps();
  if (h.has_eval_batch_size()) o->eval_batch_size = h.eval_batch_size();
  return absl::OkStatus();
}

absl::StatusOr<FineTuneSpec> ResolveFineTuneRequest(const v1::FineTuneRequest& request, const FineTuneContext& context,
                                                    const ModelWeights& base) {
  FineTuneSpec spec;
  MG_RETURN_IF_ERROR(ValidateAdapterName(request.adapter_name()));
  spec.adapter_name = request.adapter_name();
  spec.task = context.task;
  spec.options = context.defaults;
  MG_RETURN_IF_ERROR(ApplyHyperparameters(request.hyperparameters(), "hyperparameters", &spec.options));
  MG_RETURN_IF_ERROR(spec.options.Validate());
  MG_RETURN_IF_ERROR(ResolveTargetModules(spec.options.lora.target_modules, base).status());
  const auto& promote = request.promote();
  if (!(promote.min_accuracy() >= 0 && promote.min_accuracy() <= 1)) {  // NaN too
    return absl::InvalidArgumentError(
        absl::StrCat("promote.min_accuracy must be in [0, 1], got ", promote.min_accuracy()));
  }
  if (promote.enabled() && !context.can_promote) {
    return absl::InvalidArgumentError("promotion requested but the trainer has no servers configured");
  }
  const std::vector<fs::path> roots(context.data_roots.begin(), context.data_roots.end());
  if (!request.init_adapter().empty()) {
    if (auto outside = AdapterPathOutsideRoots(request.init_adapter(), roots)) {
      return absl::InvalidArgumentError(
          absl::StrCat("init_adapter ", outside->string(), " is outside the configured data roots"));
    }
    spec.init_adapter = request.init_adapter();
    // Read and fitted now, so a bad one fails the request rather than the job. A missing or broken
    // directory is the request's fault (INVALID_ARGUMENT), whatever code the reader gave it.
    absl::Status init =
        InitialAdapter(spec.options.lora, spec.init_adapter, base, torch::kCPU, spec.options.seed).status();
    if (!init.ok() && init.code() != absl::StatusCode::kInternal) {
      return absl::InvalidArgumentError(absl::StrCat("init_adapter: ", init.message()));
    }
    MG_RETURN_IF_ERROR(init);
  }
  MG_ASSIGN_OR_RETURN(spec.data, LoadDataset(request.dataset(), spec.task, roots, spec.options.seed));
  return spec;
}

}  // namespace medgemma::trainer
