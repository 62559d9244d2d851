// The token ids HF produces for one user turn plus the generation prompt, rendered as Gemma 3's
// chat template does (google/gemma-3-4b-it's chat_template.jinja, the one make-tiny-model writes):
// the template is rendered, <start_of_image> expanded to the image's soft tokens, and the whole
// string tokenized with special tokens matched literally.
#pragma once

#include <absl/status/statusor.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/model_config.h"
#include "engine/tokenizer.h"

namespace medgemma {

struct PromptTokens {
  std::vector<int64_t> ids;
  std::vector<int64_t> token_type_ids;  // 1 on image soft tokens
};

// One user turn. Gemma 3's template has no system role: a system message is folded into the
// first user turn as `{system}\n\n` before its content, untrimmed, while the user's text is trimmed
// (Jinja's `trim`, Python's str.strip: Unicode whitespace included).
struct ChatTurn {
  std::optional<std::string> system;  // nullopt: no system message ("" still adds the "\n\n")
  std::string user;
  bool image = false;  // an image before the text, as the content [image, text]
};

class ChatPrompt {
 public:
  // `add_bos_token` mirrors tokenizer_config.json: HF prepends a second <bos> when it is true.
  static absl::StatusOr<ChatPrompt> Create(const Tokenizer* tokenizer, const ModelConfig& config,
                                           bool add_bos_token);

  // The rendered chat template, before image expansion.
  static std::string Render(const ChatTurn& turn);
  // The classifier's turn: [image, text], no system message.
  static std::string Render(const std::string& user_text);
  std::string ExpandImage(const std::string& rendered) const;
  // As the processor call on the rendered text tokenizes it: a second <bos> when add_bos_token.
  PromptTokens Tokenize(const std::string& expanded) const;
  // The classifier's prompt (the reference notebook renders, then calls the processor).
  PromptTokens ForImageAndText(const std::string& user_text) const;
  // apply_chat_template(..., add_generation_prompt=True, tokenize=True)'s ids, the tokenizer's
  // (text only) or the processor's (with an image): one <bos>, the template's, since HF tokenizes
  // a rendered prompt that starts with <bos> without adding another.
  PromptTokens ForTurn(const ChatTurn& turn) const;

  int64_t image_token_id() const { return image_token_id_; }
  int end_of_turn_id() const { return end_of_turn_id_; }

 private:
  const Tokenizer* tokenizer_ = nullptr;
  int64_t image_token_id_ = 0;
  int64_t tokens_per_image_ = 0;
  int end_of_turn_id_ = -1;
  bool add_bos_token_ = false;

  PromptTokens TokenizeWithBos(const std::string& expanded, bool extra_bos) const;
};

// add_bos_token from a checkpoint's tokenizer_config.json; false when the file is absent.
absl::StatusOr<bool> ReadAddBosToken(const std::string& model_dir);

}  // namespace medgemma
