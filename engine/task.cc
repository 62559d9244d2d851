#include "engine/task.h"

#include <absl/strings/str_cat.h>
#include <yaml-cpp/yaml.h>

#include <set>

#include "base/status_macros.h"

namespace medgemma {

Task DefaultBreakHisTask() {
  Task task;
  task.prompt =
      "Analyze this breast tissue histopathology image and classify it.\n\n"
      "Classes (0-7):\n"
      "0: benign_adenosis\n"
      "1: benign_fibroadenoma\n"
      "2: benign_phyllodes_tumor\n"
      "3: benign_tubular_adenoma\n"
      "4: malignant_ductal_carcinoma\n"
      "5: malignant_lobular_carcinoma\n"
      "6: malignant_mucinous_carcinoma\n"
      "7: malignant_papillary_carcinoma\n\n"
      "Answer with only the number (0-7):";
  const char* names[] = {"benign_adenosis",           "benign_fibroadenoma",          "benign_phyllodes_tumor",
                         "benign_tubular_adenoma",    "malignant_ductal_carcinoma",   "malignant_lobular_carcinoma",
                         "malignant_mucinous_carcinoma", "malignant_papillary_carcinoma"};
  for (int i = 0; i < 8; ++i) {
    task.labels.push_back({names[i], std::to_string(i), i < 4 ? "benign" : "malignant"});
  }
  task.groups = {"benign", "malignant"};
  return task;
}

absl::Status Task::Validate() const {
  if (prompt.empty()) return absl::InvalidArgumentError("task.prompt is empty");
  if (labels.size() < 2) return absl::InvalidArgumentError("task needs at least two labels");
  std::set<std::string> names, answers;
  for (const auto& label : labels) {
    if (label.name.empty() || label.answer.empty()) {
      return absl::InvalidArgumentError("every task label needs a name and an answer");
    }
    if (!names.insert(label.name).second) return absl::InvalidArgumentError("duplicate task label " + label.name);
    if (!answers.insert(label.answer).second) {
      return absl::InvalidArgumentError("labels share the answer '" + label.answer + "'");
    }
  }
  return absl::OkStatus();
}

int Task::GroupIndex(const std::string& group) const {
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i] == group) return static_cast<int>(i);
  }
  return -1;
}

Task::Answer Task::Summarize(const float* probabilities) const {
  Answer answer;
  for (size_t i = 1; i < labels.size(); ++i) {
    if (probabilities[i] > probabilities[answer.label]) answer.label = static_cast<int>(i);
  }
  answer.group = GroupIndex(labels[answer.label].group);
  for (size_t i = 0; answer.group >= 0 && i < labels.size(); ++i) {
    if (labels[i].group == groups[answer.group]) answer.group_probability += probabilities[i];
  }
  return answer;
}

absl::StatusOr<Task> ParseTask(const YAML::Node& node) {
  Task task = DefaultBreakHisTask();
  if (!node || node.IsNull()) return task;
  try {
    if (node["prompt"]) task.prompt = node["prompt"].as<std::string>();
    if (node["labels"]) {
      task.labels.clear();
      task.groups.clear();
      for (const auto& item : node["labels"]) {
        TaskLabel label;
        label.name = item["name"].as<std::string>("");
        label.answer = item["answer"].as<std::string>(std::to_string(task.labels.size()));
        label.group = item["group"].as<std::string>("");
        if (!label.group.empty() && task.GroupIndex(label.group) < 0) task.groups.push_back(label.group);
        task.labels.push_back(std::move(label));
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("task: ", e.what()));
  }
  MG_RETURN_IF_ERROR(task.Validate());
  return task;
}

}  // namespace medgemma
