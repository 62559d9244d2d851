// SentencePiece BPE over a tokenizer.model, written here because Debian's libsentencepiece carries
// its own protobuf copy and crashes any process that also loads libprotobuf (gRPC, libtorch).
// Encoding follows sentencepiece's bpe_model.cc: user-defined pieces split off first, then
// highest-score merges (ties: leftmost), UNUSED pieces resegmented, unknown pieces to byte pieces.
#pragma once

#include <absl/status/statusor.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace medgemma {

class Tokenizer {
 public:
  enum class PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

  static absl::StatusOr<Tokenizer> Load(const std::filesystem::path& path);
  static absl::StatusOr<Tokenizer> FromSerializedProto(const std::string& bytes);

  // SentencePiece's Encode: what sentencepiece.SentencePieceProcessor.encode(text) returns.
  std::vector<int> Encode(std::string_view text) const;
  // As HF tokenizers do: literal occurrences of special-token strings (control, unknown and
  // user-defined pieces, plus `extra` such as the image soft token) become their ids; the text
  // between them is encoded with Encode.
  std::vector<int> EncodeWithSpecialTokens(std::string_view text,
                                           const std::map<std::string, int>& extra = {}) const;
  std::string Decode(const std::vector<int>& ids) const;

  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  const std::string& IdToPiece(int id) const { return pieces_.at(id).piece; }
  PieceType TypeOf(int id) const { return pieces_.at(id).type; }
  // -1 when absent.
  int PieceToId(const std::string& piece) const;
  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }
  int unk_id() const { return unk_id_; }

 private:
  struct Piece {
    std::string piece;
    float score;
    PieceType type;
  };
  std::string Normalize(std::string_view text) const;
  void EncodeNormalized(const std::string& normalized, std::vector<int>* out) const;
  size_t MatchUserDefined(std::string_view text) const;

  std::vector<Piece> pieces_;
  std::unordered_map<std::string, int> mergeable_;  // NORMAL, USER_DEFINED and UNUSED pieces
  std::unordered_map<std::string, int> reserved_;   // CONTROL, UNKNOWN and BYTE pieces
  std::unordered_map<std::string, int> user_defined_;
  size_t max_user_defined_bytes_ = 0;
  int byte_pieces_[256];
  bool byte_fallback_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool escape_whitespaces_ = true;
  int unk_id_ = 0, bos_id_ = 1, eos_id_ = 2, pad_id_ = -1;
  std::string unk_surface_;
};

}  // namespace medgemma
