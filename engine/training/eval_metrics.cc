#include "engine/training/eval_metrics.h"

#include <absl/strings/str_cat.h>

namespace medgemma {
namespace {

double F1(int64_t true_positive, int64_t predicted_positive, int64_t actual_positive) {
  // sklearn's zero_division=0: an undefined precision or recall counts as 0.
  if (true_positive == 0) return 0;
  const double precision = static_cast<double>(true_positive) / predicted_positive;
  const double recall = static_cast<double>(true_positive) / actual_positive;
  return 2 * precision * recall / (precision + recall);
}

}  // namespace

EvalMetrics ComputeEvalMetrics(const Task& task, const std::vector<int>& truth, const std::vector<int>& predicted) {
  const int k = static_cast<int>(task.labels.size());
  const int n = static_cast<int>(truth.size());
  EvalMetrics m;
  m.num_examples = n;
  m.confusion.assign(static_cast<size_t>(k) * k, 0);
  if (n == 0) return m;
  for (int i = 0; i < n; ++i) ++m.confusion[static_cast<size_t>(truth[i]) * k + predicted[i]];

  int correct = 0;
  for (int c = 0; c < k; ++c) {
    int64_t row = 0, column = 0;
    for (int j = 0; j < k; ++j) {
      row += m.confusion[static_cast<size_t>(c) * k + j];
      column += m.confusion[static_cast<size_t>(j) * k + c];
    }
    const int diagonal = m.confusion[static_cast<size_t>(c) * k + c];
    correct += diagonal;
    m.f1_weighted += F1(diagonal, column, row) * row / n;
  }
  m.accuracy = static_cast<double>(correct) / n;

  if (task.groups.size() < 2) return m;
  const int positive = static_cast<int>(task.groups.size()) - 1;
  auto is_positive = [&](int label) { return task.GroupIndex(task.labels[label].group) == positive; };
  int64_t agree = 0, tp = 0, predicted_pos = 0, actual_pos = 0;
  for (int i = 0; i < n; ++i) {
    const bool t = is_positive(truth[i]), p = is_positive(predicted[i]);
    agree += t == p;
    tp += t && p;
    predicted_pos += p;
    actual_pos += t;
  }
  m.binary_accuracy = static_cast<double>(agree) / n;
  m.binary_f1 = F1(tp, predicted_pos, actual_pos);
  return m;
}

nlohmann::json EvalMetricsToJson(const EvalMetrics& m) {
  return {{"accuracy", m.accuracy},       {"f1_weighted", m.f1_weighted}, {"binary_accuracy", m.binary_accuracy},
          {"binary_f1", m.binary_f1},     {"num_examples", m.num_examples}, {"confusion", m.confusion}};
}

absl::StatusOr<EvalMetrics> EvalMetricsFromJson(const nlohmann::json& json) {
  try {
    EvalMetrics m;
    m.accuracy = json.at("accuracy").get<double>();
    m.f1_weighted = json.at("f1_weighted").get<double>();
    m.binary_accuracy = json.at("binary_accuracy").get<double>();
    m.binary_f1 = json.at("binary_f1").get<double>();
    m.num_examples = json.at("num_examples").get<int>();
    m.confusion = json.at("confusion").get<std::vector<int>>();
    return m;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("eval metrics: ", e.what()));
  }
}

}  // namespace medgemma
