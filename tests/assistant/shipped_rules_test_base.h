// A fixture holding the shipped guardrail rules (config/guardrails.yaml), loaded once per suite:
// the tests of the rules and of the stream check their behaviour, not a copy of it.
#pragma once

#include <gtest/gtest.h>

#include "server/assistant/guardrail_rules.h"

namespace medgemma::assistant {

class ShippedRulesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shipped_ = new absl::StatusOr<GuardrailRules>(GuardrailRules::LoadFile(MEDGEMMA_CONFIG_DIR "/guardrails.yaml"));
  }
  void SetUp() override { ASSERT_TRUE(shipped_->ok()) << shipped_->status(); }
  static const GuardrailRules& ShippedRules() { return **shipped_; }

 private:
  static inline absl::StatusOr<GuardrailRules>* shipped_ = nullptr;
};

}  // namespace medgemma::assistant
