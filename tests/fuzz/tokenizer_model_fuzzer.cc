// An untrusted tokenizer.model (a serialized SentencePiece ModelProto): parsing and the checks on
// pieces, types and the normalizer spec, then encoding and decoding with whatever loaded. The
// input's own bytes are encoded too, so text reaches the encoder with pieces it was built from.
#include <algorithm>

#include "engine/tokenizer.h"
#include "tests/fuzz/fuzz_target.h"

namespace {
// Encoding is quadratic in the worst case; a few hundred bytes of text cover every path.
constexpr size_t kMaxText = 512;

void CheckIds(const medgemma::Tokenizer& tokenizer, const std::vector<int>& ids) {
  for (int id : ids) MEDGEMMA_FUZZ_CHECK(id >= 0 && id < tokenizer.vocab_size());
}
}  // namespace

MEDGEMMA_FUZZ_TARGET(tokenizer_model) {
  auto tokenizer = medgemma::Tokenizer::FromSerializedProto(std::string(data));
  if (!tokenizer.ok()) return;
  MEDGEMMA_FUZZ_CHECK(tokenizer->vocab_size() > 0);
  const std::string text(data.substr(0, std::min(data.size(), kMaxText)));
  for (const std::string& probe : {std::string("<start_of_turn>user\nIs this benign? \xe2\x96\x81 ok"), text}) {
    std::vector<int> ids = tokenizer->Encode(probe);
    CheckIds(*tokenizer, ids);
    tokenizer->Decode(ids);
    ids = tokenizer->EncodeWithSpecialTokens(probe, {{"<image_soft_token>", 0}});
    CheckIds(*tokenizer, ids);
    tokenizer->Decode(ids);
  }
  // Decode is given ids from outside too (generation output): out-of-range ones must not crash it.
  tokenizer->Decode({-1, 0, tokenizer->vocab_size(), tokenizer->vocab_size() - 1});
}
