#include "engine/chat_prompt.h"

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

// Python's str.isspace, which Jinja's `trim` (str.strip) strips.
bool IsPythonSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// The code point of the well-formed UTF-8 sequence at s[i..i+len), or U+FFFD (never a space) for a
// malformed or overlong one.
char32_t DecodeAt(absl::string_view s, size_t i, size_t len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0xFFFD;
  }
  switch (len) {
    case 1: return b(0);
    case 2: {
      const char32_t c = ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
      return c < 0x80 ? 0xFFFD : c;
    }
    case 3: {
      const char32_t c = ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
      return c < 0x800 ? 0xFFFD : c;
    }
    default: return 0xFFFD;
  }
}

// Byte length of the sequence a lead byte starts (the spaces are all 1 to 3 bytes long).
size_t SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  return 4;
}

absl::string_view TrimLikeJinja(absl::string_view s) {
  while (!s.empty()) {
    const size_t len = SequenceLength(s[0]);
    if (len > s.size() || !IsPythonSpace(DecodeAt(s, 0, len))) break;
    s.remove_prefix(len);
  }
  while (!s.empty()) {
    size_t start = s.size() - 1;  // back to the lead byte, at most 3 continuation bytes
    while (start > 0 && s.size() - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    const size_t len = s.size() - start;
    if (SequenceLength(s[start]) != len || !IsPythonSpace(DecodeAt(s, start, len))) break;
    s.remove_suffix(len);
  }
  return s;
}
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

std::string ChatPrompt::Render(const ChatTurn& turn) {
  return absl::StrCat("<bos><start_of_turn>user\n", turn.system ? absl::StrCat(*turn.system, "\n\n") : "",
                      turn.image ? kBoi : "", TrimLikeJinja(turn.user), "<end_of_turn>\n<start_of_turn>model\n");
}

std::string ChatPrompt::Render(const std::string& user_text) {
  return Render(ChatTurn{std::nullopt, user_text, true});
}

std::string ChatPrompt::ExpandImage(const std::string& rendered) const {
  std::string soft_tokens;
  for (int64_t i = 0; i < tokens_per_image_; ++i) soft_tokens += kImageSoftToken;
  return absl::StrReplaceAll(rendered, {{kBoi, absl::StrCat("\n\n", kBoi, soft_tokens, kEoi, "\n\n")}});
}

PromptTokens ChatPrompt::Tokenize(const std::string& expanded) const {
  return TokenizeWithBos(expanded, add_bos_token_);
}

PromptTokens ChatPrompt::TokenizeWithBos(const std::string& expanded, bool extra_bos) const {
  PromptTokens out;
  if (extra_bos) out.ids.push_back(tokenizer_->bos_id());
  for (int id : tokenizer_->EncodeWithSpecialTokens(expanded, {{kImageSoftToken, static_cast<int>(image_token_id_)}})) {
    out.ids.push_back(id);
  }
  for (int64_t id : out.ids) out.token_type_ids.push_back(id == image_token_id_ ? 1 : 0);
  return out;
}

PromptTokens ChatPrompt::ForImageAndText(const std::string& user_text) const {
  return Tokenize(ExpandImage(Render(user_text)));
}

PromptTokens ChatPrompt::ForTurn(const ChatTurn& turn) const {
  // Text only: a literal <start_of_image> in the text stays one token, as the tokenizer leaves it.
  const std::string rendered = Render(turn);
  return TokenizeWithBos(turn.image ? ExpandImage(rendered) : rendered, false);
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
