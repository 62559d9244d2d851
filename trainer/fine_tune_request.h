// A FineTuneRequest made concrete: defaults filled in from the trainer's configuration, the data
// set read and checked, every problem reported as INVALID_ARGUMENT. Runs both when a job is
// submitted (so a bad request never becomes a job) and when it starts or resumes.
#pragma once

#include <absl/status/statusor.h>

#include "engine/training/fine_tune_run.h"
#include "medgemma/v1/trainer.pb.h"
#include "trainer/trainer_config.h"

namespace medgemma::trainer {

// `base` is the model the job will train on: target_modules must select some of its layers.
absl::StatusOr<FineTuneSpec> ResolveFineTuneRequest(const v1::FineTuneRequest& request, const TrainerConfig& config,
                                                    const ModelWeights& base);

}  // namespace medgemma::trainer
