// The tokenizer against Debian's python3-sentencepiece (the oracle writes the cases file, see
// tests/oracles/spm_oracle.py) on the committed tiny tokenizer.model.
#include "engine/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

namespace medgemma {
namespace {

Tokenizer LoadTiny() {
  auto t = Tokenizer::Load(MEDGEMMA_TINY_TOKENIZER);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST(TokenizerTest, MatchesSentencePieceOnOracleCases) {
  // Written by the spm_oracle_cases ctest fixture.
  std::ifstream in(MEDGEMMA_SPM_CASES);
  ASSERT_TRUE(in) << MEDGEMMA_SPM_CASES << " missing: run through ctest";
  const Tokenizer tokenizer = LoadTiny();
  int cases = 0, mismatches = 0;
  std::string line;
  while (std::getline(in, line)) {
    auto c = nlohmann::json::parse(line);
    const std::string text = c["text"];
    const auto expected = c["ids"].get<std::vector<int>>();
    const auto ids = tokenizer.Encode(text);
    ++cases;
    if (ids != expected) {
      if (++mismatches <= 5) ADD_FAILURE() << "text " << nlohmann::json(text).dump() << ": ids differ";
      continue;
    }
    EXPECT_EQ(tokenizer.Decode(ids), c["decoded"].get<std::string>());
  }
  EXPECT_GE(cases, 3000);
  EXPECT_EQ(mismatches, 0);
}

TEST(TokenizerTest, SpecialIdsComeFromTheModel) {
  const Tokenizer t = LoadTiny();
  EXPECT_EQ(t.IdToPiece(t.bos_id()), "<bos>");
  EXPECT_EQ(t.IdToPiece(t.eos_id()), "<eos>");
  EXPECT_EQ(t.IdToPiece(t.pad_id()), "<pad>");
  EXPECT_EQ(t.TypeOf(t.PieceToId("<start_of_turn>")), Tokenizer::PieceType::kUserDefined);
  EXPECT_EQ(t.PieceToId("no such piece"), -1);
}

TEST(TokenizerTest, DigitsAreSingleTokens) {
  const Tokenizer t = LoadTiny();
  for (char d = '0'; d <= '9'; ++d) EXPECT_EQ(t.Encode(std::string(1, d)).size(), 1u) << d;
}

TEST(TokenizerTest, SpecialTokensAreMatchedLiterallyOnlyWhenAsked) {
  const Tokenizer t = LoadTiny();
  const auto with = t.EncodeWithSpecialTokens("<bos>hi<image_soft_token>", {{"<image_soft_token>", 644}});
  EXPECT_EQ(with.front(), t.bos_id());
  EXPECT_EQ(with.back(), 644);
  const auto plain = t.Encode("<bos>");
  EXPECT_GT(plain.size(), 1u);  // control pieces are not produced from text by SentencePiece
}

TEST(TokenizerTest, ByteFallbackRoundTripsBytesOutsideTheVocab) {
  const Tokenizer t = LoadTiny();
  const std::string text = "乳腺 🔬 x";
  const auto ids = t.Encode(text);
  int bytes = 0;
  for (int id : ids) bytes += t.TypeOf(id) == Tokenizer::PieceType::kByte;
  EXPECT_GT(bytes, 6);
  EXPECT_EQ(t.Decode(ids), text);
}

TEST(TokenizerTest, RejectsWhatIsNotABpeModelProto) {
  EXPECT_FALSE(Tokenizer::FromSerializedProto("definitely not a protobuf").ok());
  EXPECT_FALSE(Tokenizer::FromSerializedProto("").ok());
}

}  // namespace
}  // namespace medgemma
