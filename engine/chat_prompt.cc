#include "engine/chat_prompt.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_replace.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "base/file_util.h"
#include "base/status_macros.h"

namespace medgemma {
namespace {
constexpr const char* kBoi = "<start_of_image>";
constexpr const char* kEoi = "<end_of_image>";
constexpr const char* kImageSoftToken = "<image_soft_token>";
}  // namespace

absl::StatusOr<ChatPrompt> ChatPrompt::Create(const Tokenizer* tokenizer, const ModelConfig& config,
                                              bool add_bos_token) {
  ChatPrompt p;
  p.tokenizer_ = tokenizer;
  p.image_token_id_ = config.image_token_id;
  p.tokens_per_image_ = config.mm_tokens_per_image;
  p.add_bos_token_ = add_bos_token;
  p.end_of_turn_id_ = tokenizer->PieceToId("<end_of_turn>");
  const std::pair<const char*, int64_t> expected[] = {{kBoi, config.boi_token_id}, {kEoi, config.eoi_token_id}};
  for (const auto& [piece, id] : expected) {
    if (tokenizer->PieceToId(piece) != id) {
      return absl::FailedPreconditionError(absl::StrCat("tokenizer id of ", piece, " is ", tokenizer->PieceToId(piece),
                                                        " but config.json says ", id));
    }
  }
  for (const char* piece : {"<start_of_turn>", "<end_of_turn>"}) {
    if (tokenizer->PieceToId(piece) < 0) {
      return absl::FailedPreconditionError(absl::StrCat("tokenizer has no ", piece, " piece"));
    }
  }
  if (tokenizer->PieceToId(kImageSoftToken) >= 0 && tokenizer->PieceToId(kImageSoftToken) != config.image_token_id) {
    return absl::FailedPreconditionError("tokenizer's <image_soft_token> disagrees with config image_token_index");
  }
  return p;
}

std::string ChatPrompt::Render(const std::string& user_text) {
  return absl::StrCat("<bos><start_of_turn>user\n", kBoi, absl::StripAsciiWhitespace(user_text),
                      "<end_of_turn>\n<start_of_turn>model\n");
}

std::string ChatPrompt::ExpandImage(const std::string& rendered) const {
  std::string soft_tokens;
  for (int64_t i = 0; i < tokens_per_image_; ++i) soft_tokens += kImageSoftToken;
  return absl::StrReplaceAll(rendered, {{kBoi, absl::StrCat("\n\n", kBoi, soft_tokens, kEoi, "\n\n")}});
}

PromptTokens ChatPrompt::Tokenize(const std::string& expanded) const {
  PromptTokens out;
  if (add_bos_token_) out.ids.push_back(tokenizer_->bos_id());
  for (int id : tokenizer_->EncodeWithSpecialTokens(expanded, {{kImageSoftToken, static_cast<int>(image_token_id_)}})) {
    out.ids.push_back(id);
  }
  for (int64_t id : out.ids) out.token_type_ids.push_back(id == image_token_id_ ? 1 : 0);
  return out;
}

PromptTokens ChatPrompt::ForImageAndText(const std::string& user_text) const {
  return Tokenize(ExpandImage(Render(user_text)));
}

absl::StatusOr<bool> ReadAddBosToken(const std::string& model_dir) {
  const auto path = std::filesystem::path(model_dir) / "tokenizer_config.json";
  if (!std::filesystem::exists(path)) return false;
  MG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  try {
    auto json = nlohmann::json::parse(text);
    return json.value("add_bos_token", false);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not valid JSON: ", e.what()));
  }
}

}  // namespace medgemma
