// A FineTuneRequest made concrete: unset fields take the context's defaults, the data set is read
// and checked, every problem is INVALID_ARGUMENT naming the field. The one resolution for both
// medgemma-trainer (when a job is submitted, so a bad request never becomes a job, and again when
// it starts or resumes) and medgemma-cli train.
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <string>
#include <vector>

#include "engine/task.h"
#include "engine/training/fine_tune_run.h"
#include "medgemma/v1/trainer.pb.h"

namespace medgemma::trainer {

// What a request is resolved against.
struct FineTuneContext {
  Task task = DefaultBreakHisTask();
  TrainingOptions defaults;             // what unset hyper-parameters mean
  std::vector<std::string> data_roots;  // every path in the request must lie inside one; empty: anywhere
  bool can_promote = false;             // promotion targets are configured
};

// Sets `options`' counterpart of every set field of `h`. `where` names `h` in errors; ranges are
// TrainingOptions::Validate's to check.
absl::Status ApplyHyperparameters(const v1::Hyperparameters& h, absl::string_view where, TrainingOptions* options);

// `base` is the model the job will train on: target_modules and init_adapter must fit it.
absl::StatusOr<FineTuneSpec> ResolveFineTuneRequest(const v1::FineTuneRequest& request, const FineTuneContext& context,
                                                    const ModelWeights& base);

}  // namespace medgemma::trainer
