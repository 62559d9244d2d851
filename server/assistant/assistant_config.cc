#include "server/assistant/assistant_config.h"

#include <absl/strings/str_cat.h>

namespace medgemma::assistant {

absl::Status AssistantConfig::Validate() const {
  if (disclaimer.empty()) return absl::InvalidArgumentError("assistant.disclaimer must not be empty");
  if (guardrails_file.empty()) return absl::InvalidArgumentError("assistant.guardrails_file must not be empty");
  return absl::OkStatus();
}

absl::StatusOr<AssistantConfig> ParseAssistantConfig(const YAML::Node& node) {
  AssistantConfig c;
  if (!node || node.IsNull()) return c;
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat("assistant (line ", node.Mark().line + 1, ") must be a mapping"));
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    std::string* field = key == "system_prompt"     ? &c.system_prompt
                         : key == "disclaimer"      ? &c.disclaimer
                         : key == "guardrails_file" ? &c.guardrails_file
                                                    : nullptr;
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("assistant.", key, " (line ", entry.first.Mark().line + 1,
                       ") is not a setting: system_prompt, disclaimer, guardrails_file"));
    }
    if (!entry.second.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat("assistant.", key, " (line ", entry.second.Mark().line + 1, ") must be a string"));
    }
    *field = entry.second.as<std::string>();
  }
  return c;
}

}  // namespace medgemma::assistant
