// Puts a finished adapter into the running servers: the gate (final accuracy >= min_accuracy and,
// when required, better than what the first server's current default answers on the same eval
// split, measured through its Classify API), then AdapterAdmin.LoadAdapter(set_default=true) on
// every configured replica (a name counts for every address it resolves to). The servers swap with zero downtime; the outcome per server is reported.
#pragma once

#include <string>
#include <vector>

#include "engine/task.h"
#include "engine/training/dataset.h"
#include "engine/training/eval_metrics.h"
#include "medgemma/v1/trainer.pb.h"
#include "trainer/trainer_config.h"

namespace medgemma::trainer {

struct PromotionOutcome {
  bool promoted = false;  // every server now serves the adapter as its default
  bool failed = false;    // not for the gate's verdict: a server was unreachable or refused the adapter
  std::string message;
};

PromotionOutcome Promote(const TrainerConfig& config, const v1::Promotion& promotion, const std::string& adapter_name,
                         const std::string& adapter_dir, const EvalMetrics& final_metrics,
                         const std::vector<LabeledImage>& eval_images);

}  // namespace medgemma::trainer
