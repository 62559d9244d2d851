// The Assistant's settings: the `assistant:` section of the server config (config/server.yaml).
// The safety system prompt and the disclaimer are declared here once; the YAML file states them
// again for its readers, and tests/assistant/assistant_config_test.cc keeps the two equal.
#pragma once

#include <absl/status/statusor.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

namespace medgemma::assistant {

struct AssistantConfig {
  // Folded into the first user turn as Gemma 3's chat template does (engine/chat_prompt.h:
  // ChatTurn::system); empty: no system message.
  std::string system_prompt =
      "You are a helpful medical assistant. You provide information, not diagnosis. Always advise consulting a doctor.";
  // Shown by every page of the web console and carried by the last chunk of every answer.
  std::string disclaimer =
      "This assistant provides general information, not a diagnosis or medical advice. Always consult a doctor.";
  // The guardrail rules (server/assistant/guardrail_rules.h), relative to the working directory.
  std::string guardrails_file = "config/guardrails.yaml";

  absl::Status Validate() const;
  // ChatTurn::system for the prompt: none when system_prompt is empty (an empty system message
  // would still add the template's blank line).
  std::optional<std::string> system_message() const {
    return system_prompt.empty() ? std::nullopt : std::optional<std::string>(system_prompt);
  }
};

// The `assistant:` node (absent or null: the defaults). Unknown keys are errors: a misspelt
// `system_promt` must not silently leave the default in place.
absl::StatusOr<AssistantConfig> ParseAssistantConfig(const YAML::Node& node);

}  // namespace medgemma::assistant
