// Prompt ids against the composition HF's Gemma3Processor was seen to produce (transformers 5.17),
// computed with python3-sentencepiece by tests/oracles/spm_oracle.py.
#include "engine/chat_prompt.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "base/file_util.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {

TEST(ChatPromptTest, IdsMatchTheProcessorComposition) {
  const auto& b = testing::TinyBundle();
  ASSERT_TRUE(b.add_bos_token);
  auto chat = ChatPrompt::Create(b.tokenizer.get(), b.model->config(), b.add_bos_token);
  ASSERT_TRUE(chat.ok()) << chat.status();
  auto text = ReadFileToString(MEDGEMMA_PROMPT_CASES);  // written by the spm_oracle_cases fixture
  ASSERT_TRUE(text.ok()) << text.status() << ": run through ctest";
  auto cases = nlohmann::json::parse(*text);
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    const PromptTokens p = chat->ForImageAndText(c["text"].get<std::string>());
    EXPECT_EQ(p.ids, c["ids"].get<std::vector<int64_t>>()) << c["text"].dump();
    int64_t image_tokens = 0;
    for (size_t i = 0; i < p.ids.size(); ++i) {
      EXPECT_EQ(p.token_type_ids[i], p.ids[i] == b.model->config().image_token_id ? 1 : 0);
      image_tokens += p.token_type_ids[i];
    }
    EXPECT_EQ(image_tokens, b.model->config().mm_tokens_per_image);
  }
}

TEST(ChatPromptTest, RendersTheGemmaTemplate) {
  EXPECT_EQ(ChatPrompt::Render("  hello \n"),
            "<bos><start_of_turn>user\n<start_of_image>hello<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatPromptTest, RefusesATokenizerWhoseImageIdsDisagreeWithTheConfig) {
  const auto& b = testing::TinyBundle();
  ModelConfig config = b.model->config();
  config.boi_token_id = 5;
  EXPECT_EQ(ChatPrompt::Create(b.tokenizer.get(), config, true).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace medgemma
