// Prompt ids against the composition HF's Gemma3Processor was seen to produce (transformers 5.17),
// computed with python3-sentencepiece by tests/oracles/spm_oracle.py.
#include "engine/chat_prompt.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
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

TEST(ChatPromptTest, FoldsTheSystemMessageIntoTheUserTurnUntrimmed) {
  EXPECT_EQ(ChatPrompt::Render(ChatTurn{" Be safe.\n", " Hi\t", false}),
            "<bos><start_of_turn>user\n Be safe.\n\n\nHi<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(ChatPrompt::Render(ChatTurn{"S", "Q", true}),
            "<bos><start_of_turn>user\nS\n\n<start_of_image>Q<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(ChatPrompt::Render(ChatTurn{"", "Q", false}),
            "<bos><start_of_turn>user\n\n\nQ<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(ChatPrompt::Render(ChatTurn{std::nullopt, "Q", false}),
            "<bos><start_of_turn>user\nQ<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatPromptTest, TrimsTheUserTextAsPythonsStripDoes) {
  // U+3000, U+00A0, U+2029, U+0085, U+001F are str.isspace; U+200B (zero width space) and U+FEFF are not.
  EXPECT_EQ(ChatPrompt::Render(ChatTurn{std::nullopt, "\u3000\u00a0\x1f Q \u2029\u0085", false}),
            "<bos><start_of_turn>user\nQ<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(ChatPrompt::Render(ChatTurn{std::nullopt, "\u200bQ\ufeff", false}),
            "<bos><start_of_turn>user\n\u200bQ\ufeff<end_of_turn>\n<start_of_turn>model\n");
  // Malformed and overlong bytes are never taken for spaces: \xc0\xa0 would decode to U+0020.
  EXPECT_EQ(ChatPrompt::Render(ChatTurn{std::nullopt, "\xc0\xa0Q\xe3\x80", false}),
            "<bos><start_of_turn>user\n\xc0\xa0Q\xe3\x80<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(ChatPrompt::Render(ChatTurn{std::nullopt, " \n\u3000", false}),
            "<bos><start_of_turn>user\n<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatPromptTest, ATurnHasOneBosAndATextOnlyTurnNoImageTokens) {
  const auto& b = testing::TinyBundle();
  auto chat = ChatPrompt::Create(b.tokenizer.get(), b.model->config(), b.add_bos_token);
  ASSERT_TRUE(chat.ok()) << chat.status();
  const int bos = b.tokenizer->bos_id();
  const PromptTokens text_only = chat->ForTurn(ChatTurn{"Be safe.", "Hi <start_of_image>", false});
  ASSERT_GE(text_only.ids.size(), 2u);
  EXPECT_EQ(text_only.ids[0], bos);
  EXPECT_NE(text_only.ids[1], bos);
  EXPECT_EQ(std::count(text_only.token_type_ids.begin(), text_only.token_type_ids.end(), 1), 0);
  EXPECT_EQ(std::count(text_only.ids.begin(), text_only.ids.end(), b.model->config().boi_token_id), 1);
  const PromptTokens with_image = chat->ForTurn(ChatTurn{"Be safe.", "Hi", true});
  EXPECT_EQ(std::count(with_image.token_type_ids.begin(), with_image.token_type_ids.end(), 1),
            b.model->config().mm_tokens_per_image);
  // The classifier's prompt is the same turn with the processor call's second <bos>.
  const PromptTokens classify = chat->ForImageAndText("Hi");
  std::vector<int64_t> turn_ids = chat->ForTurn(ChatTurn{std::nullopt, "Hi", true}).ids;
  turn_ids.insert(turn_ids.begin(), bos);
  EXPECT_EQ(classify.ids, turn_ids);
}

TEST(ChatPromptTest, RefusesATokenizerWhoseImageIdsDisagreeWithTheConfig) {
  const auto& b = testing::TinyBundle();
  ModelConfig config = b.model->config();
  config.boi_token_id = 5;
  EXPECT_EQ(ChatPrompt::Create(b.tokenizer.get(), config, true).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace medgemma
