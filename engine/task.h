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
  // The answer to one set of class probabilities (one per label, in label order).
  struct Answer {
    int label = 0;                  // the most probable class (first of equals)
    int group = -1;                 // its group's index, -1 when it has none
    double group_probability = 0;   // the sum over that group's classes
  };
  Answer Summarize(const float* probabilities) const;
};

Task DefaultBreakHisTask();
// `task:` block of a YAML config: prompt, labels: [{name, answer?, group}] (answer defaults to
// the label's index). Missing keys keep the default task's values.
absl::StatusOr<Task> ParseTask(const YAML::Node& node);

}  // namespace medgemma
