// The notebook's evaluation: K-class accuracy and support-weighted F1, plus the two-group
// (benign vs malignant) accuracy and the F1 of the positive group, and the confusion matrix.
#pragma once

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "engine/task.h"

namespace medgemma {

struct EvalMetrics {
  double accuracy = 0;
  double f1_weighted = 0;
  double binary_accuracy = 0;
  double binary_f1 = 0;  // of the task's last group (BreakHis: malignant)
  int num_examples = 0;
  std::vector<int> confusion;  // K x K row-major, rows = truth, columns = prediction
};

// truth and predicted hold label indices in [0, K). Groups come from the task's labels; with fewer
// than two groups the binary fields stay 0.
EvalMetrics ComputeEvalMetrics(const Task& task, const std::vector<int>& truth, const std::vector<int>& predicted);

nlohmann::json EvalMetricsToJson(const EvalMetrics& metrics);
absl::StatusOr<EvalMetrics> EvalMetricsFromJson(const nlohmann::json& json);

}  // namespace medgemma
