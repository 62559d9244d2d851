// What the classifier is asked: the prompt text and the answer that names each class. The default
// is the reference notebook's BreakHis task, prompt kept byte-exact.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace medgemma {

struct TaskLabel {
  std::string name;    // e.g. benign_adenosis
  std::string answer;  // the model's answer text for this class, e.g. "0"
  std::string group;   // e.g. benign
};

struct Task {
  std::string prompt;
  std::vector<TaskLabel> labels;
  std::vector<std::string> groups;  // distinct, in first-seen order

  absl::Status Validate() const;
  int GroupIndex(const std::string& group) const;
};

Task DefaultBreakHisTask();
// `task:` block of a YAML config: prompt, labels: [{name, answer?, group}] (answer defaults to
// the label's index). Missing keys keep the default task's values.
absl::StatusOr<Task> ParseTask(const YAML::Node& node);

}  // namespace medgemma
