// The token ids HF's Gemma3Processor produces for one user turn holding [image, text] plus the
// generation prompt: the chat template is rendered, <start_of_image> expanded to the image's soft
// tokens, and the whole string tokenized with special tokens matched literally.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "engine/model_config.h"
#include "engine/tokenizer.h"

namespace medgemma {

struct PromptTokens {
  std::vector<int64_t> ids;
  std::vector<int64_t> token_type_ids;  // 1 on image soft tokens
};

class ChatPrompt {
 public:
  // `add_bos_token` mirrors tokenizer_config.json: HF prepends a second <bos> when it is true.
  static absl::StatusOr<ChatPrompt> Create(const Tokenizer* tokenizer, const ModelConfig& config,
                                           bool add_bos_token);

  // The rendered chat template, before image expansion.
  static std::string Render(const std::string& user_text);
  std::string ExpandImage(const std::string& rendered) const;
  PromptTokens Tokenize(const std::string& expanded) const;
  PromptTokens ForImageAndText(const std::string& user_text) const;

  int64_t image_token_id() const { return image_token_id_; }
  int end_of_turn_id() const { return end_of_turn_id_; }

 private:
  const Tokenizer* tokenizer_ = nullptr;
  int64_t image_token_id_ = 0;
  int64_t tokens_per_image_ = 0;
  int end_of_turn_id_ = -1;
  bool add_bos_token_ = false;
};

// add_bos_token from a checkpoint's tokenizer_config.json; false when the file is absent.
absl::StatusOr<bool> ReadAddBosToken(const std::string& model_dir);

}  // namespace medgemma
