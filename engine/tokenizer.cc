#include "engine/tokenizer.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include <functional>
#include <queue>

#include "base/file_util.h"
#include "engine/proto/sentencepiece_model.pb.h"
#include "base/status_macros.h"

namespace medgemma {
namespace {
constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581 ▁

size_t Utf8CharLength(std::string_view text) {
  const unsigned char c = static_cast<unsigned char>(text[0]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  if (n > text.size()) return 1;
  for (size_t i = 1; i < n; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) return 1;  // invalid: one byte alone
  }
  return n;
}

std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = text.find(from, pos);
    out.append(text.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos));
    if (hit == std::string_view::npos) return out;
    out.append(to);
    pos = hit + from.size();
  }
}
}  // namespace

absl::StatusOr<Tokenizer> Tokenizer::Load(const std::filesystem::path& path) {
  MG_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  auto tokenizer = FromSerializedProto(bytes);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(), absl::StrCat(path.string(), ": ", tokenizer.status().message()));
  }
  return tokenizer;
}

absl::StatusOr<Tokenizer> Tokenizer::FromSerializedProto(const std::string& bytes) {
  spm::ModelProto proto;
  if (!proto.ParseFromString(bytes)) return absl::InvalidArgumentError("not a SentencePiece ModelProto");
  if (proto.trainer_spec().model_type() != spm::TrainerSpec::BPE) {
    return absl::UnimplementedError(absl::StrCat("SentencePiece model type ", proto.trainer_spec().model_type(),
                                                 " is not supported; only BPE (2), as Gemma uses"));
  }
  if (!proto.normalizer_spec().precompiled_charsmap().empty()) {
    return absl::UnimplementedError(absl::StrCat("normalization rule '", proto.normalizer_spec().name(),
                                                 "' is not supported; only identity, as Gemma uses"));
  }
  if (proto.trainer_spec().treat_whitespace_as_suffix()) {
    return absl::UnimplementedError("treat_whitespace_as_suffix is not supported");
  }
  if (proto.pieces_size() == 0) return absl::InvalidArgumentError("tokenizer has no pieces");
  Tokenizer t;
  const auto& ts = proto.trainer_spec();
  t.byte_fallback_ = ts.byte_fallback();
  t.unk_id_ = ts.unk_id();
  t.bos_id_ = ts.bos_id();
  t.eos_id_ = ts.eos_id();
  t.pad_id_ = ts.pad_id();
  t.unk_surface_ = ts.unk_surface();
  t.add_dummy_prefix_ = proto.normalizer_spec().add_dummy_prefix();
  t.remove_extra_whitespaces_ = proto.normalizer_spec().remove_extra_whitespaces();
  t.escape_whitespaces_ = proto.normalizer_spec().escape_whitespaces();
  std::fill(std::begin(t.byte_pieces_), std::end(t.byte_pieces_), -1);
  for (int i = 0; i < proto.pieces_size(); ++i) {
    const auto& p = proto.pieces(i);
    const auto type = static_cast<PieceType>(p.type());
    t.pieces_.push_back({p.piece(), p.score(), type});
    if (type == PieceType::kNormal || type == PieceType::kUserDefined || type == PieceType::kUnused) {
      t.mergeable_.emplace(p.piece(), i);
    } else {
      t.reserved_.emplace(p.piece(), i);
    }
    if (type == PieceType::kUserDefined) {
      t.user_defined_.emplace(p.piece(), i);
      t.max_user_defined_bytes_ = std::max(t.max_user_defined_bytes_, p.piece().size());
    }
    if (type == PieceType::kByte) {
      unsigned value = 0;
      if (std::sscanf(p.piece().c_str(), "<0x%02X>", &value) == 1 && value < 256) t.byte_pieces_[value] = i;
    }
  }
  const int n = t.vocab_size();
  for (int id : {t.unk_id_, t.bos_id_, t.eos_id_}) {
    if (id < 0 || id >= n) return absl::InvalidArgumentError(absl::StrCat("special id ", id, " outside vocab of ", n));
  }
  if (t.byte_fallback_) {
    for (int b = 0; b < 256; ++b) {
      if (t.byte_pieces_[b] < 0) {
        return absl::InvalidArgumentError(absl::StrFormat("byte_fallback is on but piece <0x%02X> is missing", b));
      }
    }
  }
  return t;
}

int Tokenizer::PieceToId(const std::string& piece) const {
  if (auto it = mergeable_.find(piece); it != mergeable_.end()) return it->second;
  if (auto it = reserved_.find(piece); it != reserved_.end()) return it->second;
  return -1;
}

std::string Tokenizer::Normalize(std::string_view text) const {
  std::string s(text);
  if (remove_extra_whitespaces_) {
    std::string folded;
    bool prev_space = true;  // drops leading spaces
    for (char c : s) {
      if (c == ' ' && prev_space) continue;
      folded.push_back(c);
      prev_space = c == ' ';
    }
    while (!folded.empty() && folded.back() == ' ') folded.pop_back();
    s = std::move(folded);
  }
  if (s.empty()) return s;
  if (add_dummy_prefix_) s.insert(s.begin(), ' ');
  return escape_whitespaces_ ? ReplaceAll(s, " ", kSpaceSymbol) : s;
}

size_t Tokenizer::MatchUserDefined(std::string_view text) const {
  for (size_t len = std::min(max_user_defined_bytes_, text.size()); len > 0; --len) {
    if (user_defined_.count(std::string(text.substr(0, len)))) return len;
  }
  return 0;
}

void Tokenizer::EncodeNormalized(const std::string& normalized, std::vector<int>* out) const {
  struct Symbol {
    int prev, next;
    size_t begin, size;
    bool freeze;
  };
  struct Pair {
    float score;
    int left, right;
    size_t size;
  };
  auto lower_priority = [](const Pair& a, const Pair& b) {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  };
  std::priority_queue<Pair, std::vector<Pair>, decltype(lower_priority)> agenda(lower_priority);
  std::vector<Symbol> symbols;
  std::unordered_map<std::string, std::pair<std::string, std::string>> unused_splits;

  for (size_t pos = 0; pos < normalized.size();) {
    const std::string_view rest(normalized.data() + pos, normalized.size() - pos);
    size_t len = MatchUserDefined(rest);
    const bool freeze = len > 0;
    if (!freeze) len = Utf8CharLength(rest);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, pos + len < normalized.size() ? index + 1 : -1, pos, len, freeze});
    pos += len;
  }
  auto piece_of = [&](const Symbol& s) { return normalized.substr(s.begin, s.size); };
  auto maybe_add_pair = [&](int left, int right) {
    if (left < 0 || right < 0 || symbols[left].freeze || symbols[right].freeze) return;
    const std::string merged = normalized.substr(symbols[left].begin, symbols[left].size + symbols[right].size);
    auto it = mergeable_.find(merged);
    if (it == mergeable_.end()) return;
    agenda.push({pieces_[it->second].score, left, right, merged.size()});
    if (pieces_[it->second].type == PieceType::kUnused) {
      unused_splits[merged] = {piece_of(symbols[left]), piece_of(symbols[right])};
    }
  };
  for (size_t i = 1; i < symbols.size(); ++i) maybe_add_pair(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    if (left.size == 0 || right.size == 0 || left.size + right.size != top.size) continue;  // stale
    left.size += right.size;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.size = 0;
    maybe_add_pair(left.prev, top.left);
    maybe_add_pair(top.left, left.next);
  }

  std::function<void(const std::string&)> emit = [&](const std::string& piece) {
    const int id = PieceToId(piece);
    auto split = unused_splits.find(piece);
    if (id >= 0 && pieces_[id].type == PieceType::kUnused && split != unused_splits.end()) {
      emit(split->second.first);
      emit(split->second.second);
      return;
    }
    if (id >= 0 && pieces_[id].type != PieceType::kUnused) {
      out->push_back(id);
    } else if (byte_fallback_) {
      for (unsigned char b : piece) out->push_back(byte_pieces_[b]);
    } else if (out->empty() || out->back() != unk_id_) {
      out->push_back(unk_id_);  // sentencepiece folds a run of unknown pieces into one
    }
  };
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next) emit(piece_of(symbols[i]));
}

std::vector<int> Tokenizer::Encode(std::string_view text) const {
  std::vector<int> ids;
  EncodeNormalized(Normalize(text), &ids);
  return ids;
}

std::vector<int> Tokenizer::EncodeWithSpecialTokens(std::string_view text,
                                                    const std::map<std::string, int>& extra) const {
  std::map<std::string, int> specials = extra;
  for (int i = 0; i < vocab_size(); ++i) {
    const PieceType type = pieces_[i].type;
    if (type == PieceType::kControl || type == PieceType::kUnknown || type == PieceType::kUserDefined) {
      specials.emplace(pieces_[i].piece, i);
    }
  }
  std::vector<int> ids;
  size_t segment_start = 0, pos = 0;
  while (pos < text.size()) {
    const std::pair<const std::string, int>* best = nullptr;
    for (const auto& entry : specials) {
      if (!entry.first.empty() && text.compare(pos, entry.first.size(), entry.first) == 0 &&
          (best == nullptr || entry.first.size() > best->first.size())) {
        best = &entry;
      }
    }
    if (best == nullptr) {
      ++pos;
      continue;
    }
    if (pos > segment_start) {
      std::vector<int> part = Encode(text.substr(segment_start, pos - segment_start));
      ids.insert(ids.end(), part.begin(), part.end());
    }
    ids.push_back(best->second);
    pos += best->first.size();
    segment_start = pos;
  }
  if (segment_start < text.size()) {
    std::vector<int> part = Encode(text.substr(segment_start));
    ids.insert(ids.end(), part.begin(), part.end());
  }
  return ids;
}

std::string Tokenizer::Decode(const std::vector<int>& ids) const {
  std::string text;
  for (int id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    const Piece& p = pieces_[id];
    switch (p.type) {
      case PieceType::kControl:
        break;
      case PieceType::kUnknown:
        text += unk_surface_;
        break;
      case PieceType::kByte: {
        unsigned value = 0;
        std::sscanf(p.piece.c_str(), "<0x%02X>", &value);
        text.push_back(static_cast<char>(value));
        break;
      }
      default:
        text += p.piece;
    }
  }
  text = ReplaceAll(text, kSpaceSymbol, " ");
  if (add_dummy_prefix_ && !text.empty() && text[0] == ' ') text.erase(0, 1);
  return text;
}

}  // namespace medgemma
