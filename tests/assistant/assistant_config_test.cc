#include "server/assistant/assistant_config.h"

#include <gtest/gtest.h>

#include "server/assistant/guardrail_rules.h"

namespace medgemma::assistant {
namespace {

TEST(AssistantConfigTest, TheDefaultSystemPromptIsTheSafetyPrompt) {
  EXPECT_EQ(AssistantConfig().system_prompt,
            "You are a helpful medical assistant. You provide information, not diagnosis. Always advise consulting a "
            "doctor.");
  EXPECT_TRUE(AssistantConfig().Validate().ok());
  EXPECT_EQ(AssistantConfig().system_message(), AssistantConfig().system_prompt);
  AssistantConfig none;
  none.system_prompt.clear();
  EXPECT_EQ(none.system_message(), std::nullopt);
}

// config/server.yaml states the defaults for its readers: it must say what the server does.
TEST(AssistantConfigTest, ServerYamlStatesTheDefaults) {
  const YAML::Node root = YAML::LoadFile(MEDGEMMA_CONFIG_DIR "/server.yaml");
  ASSERT_TRUE(root["assistant"]);
  auto parsed = ParseAssistantConfig(root["assistant"]);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const AssistantConfig defaults;
  EXPECT_EQ(parsed->system_prompt, defaults.system_prompt);
  EXPECT_EQ(parsed->disclaimer, defaults.disclaimer);
  EXPECT_EQ(parsed->guardrails_file, defaults.guardrails_file);
  // The named rules file loads (paths are relative to the repository root, the server's directory).
  auto rules = GuardrailRules::LoadFile(MEDGEMMA_CONFIG_DIR "/../" + parsed->guardrails_file);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_GT(rules->rule_count(), 0u);
}

TEST(AssistantConfigTest, ParsesOverridesAndRefusesMistakes) {
  auto parsed =
      ParseAssistantConfig(YAML::Load("{system_prompt: '', disclaimer: Not advice., guardrails_file: g.yaml}"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->system_prompt, "");
  EXPECT_EQ(parsed->disclaimer, "Not advice.");
  EXPECT_EQ(parsed->guardrails_file, "g.yaml");
  EXPECT_TRUE(ParseAssistantConfig(YAML::Node()).ok());

  auto typo = ParseAssistantConfig(YAML::Load("x: 1\nsystem_promt: hi\n"));
  EXPECT_EQ(typo.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(typo.status().message().find("assistant.x (line 1)"), std::string::npos) << typo.status();
  EXPECT_EQ(ParseAssistantConfig(YAML::Load("system_prompt: [a, b]")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseAssistantConfig(YAML::Load("[a]")).status().code(), absl::StatusCode::kInvalidArgument);
  AssistantConfig no_disclaimer;
  no_disclaimer.disclaimer.clear();
  EXPECT_EQ(no_disclaimer.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medgemma::assistant
