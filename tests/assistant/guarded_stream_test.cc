// GuardedStream: whatever pieces an answer arrives in, a flagged answer's match never reaches the
// released text, a clean answer is released whole, and releases never cut a UTF-8 sequence.
#include "server/assistant/guarded_stream.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "base/utf8.h"
#include "server/assistant/sentence_boundaries.h"
#include "tests/assistant/shipped_rules_test_base.h"

namespace medgemma::assistant {
namespace {

class GuardedStreamTest : public ShippedRulesTest {};

struct Streamed {
  std::vector<std::string> chunks;  // every non-empty release, Finish's included
  std::string released;
  GuardrailVerdict verdict;
};

Streamed StreamInPieces(const GuardrailRules& rules, const std::string& text, const std::vector<size_t>& cuts) {
  GuardedStream stream(&rules);
  Streamed out;
  size_t at = 0;
  auto take = [&](std::string chunk) {
    if (chunk.empty()) return;
    out.released += chunk;
    out.chunks.push_back(std::move(chunk));
  };
  for (size_t cut : cuts) {
    take(stream.Append(std::string_view(text).substr(at, cut - at)));
    at = cut;
  }
  take(stream.Append(std::string_view(text).substr(at)));
  take(stream.Finish());
  EXPECT_EQ(stream.released_bytes(), out.released.size());
  out.verdict = stream.verdict();
  return out;
}

// Every split into two pieces, one piece per byte, and random splits (fixed seed).
std::vector<std::vector<size_t>> Splits(const std::string& text) {
  std::vector<std::vector<size_t>> splits = {{}};
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < text.size(); ++i) {
    splits.push_back({i});
    every_byte.push_back(i);
  }
  splits.push_back(every_byte);
  std::mt19937 rng(1234);
  for (int r = 0; r < 200; ++r) {
    std::vector<size_t> cuts;
    for (size_t at = 1 + rng() % 12; at < text.size(); at += 1 + rng() % 12) cuts.push_back(at);
    splits.push_back(cuts);
  }
  return splits;
}

void ExpectSafeForEverySplit(const GuardrailRules& rules, const std::string& text) {
  const GuardrailVerdict whole = rules.CheckOutput(text);
  std::string first_released;
  bool first = true;
  for (const auto& cuts : Splits(text)) {
    const Streamed s = StreamInPieces(rules, text, cuts);
    ASSERT_EQ(s.verdict.flagged, whole.flagged) << text;
    if (whole.flagged) {
      // Nothing from the match on was shown, and what was shown is clean.
      ASSERT_LE(s.released.size(), whole.match_begin) << text << "\nreleased: " << s.released;
      ASSERT_EQ(text.compare(0, s.released.size(), s.released), 0);
      ASSERT_FALSE(rules.CheckOutput(s.released).flagged) << s.released;
      EXPECT_EQ(s.verdict.category, whole.category);
    } else {
      ASSERT_EQ(s.released, text);
    }
    for (const std::string& chunk : s.chunks) ASSERT_TRUE(IsValidUtf8(chunk) || !IsValidUtf8(text)) << chunk;
    // Releases depend on the text, not on how it was cut.
    if (first) first_released = s.released;
    ASSERT_EQ(s.released, first_released) << text;
    first = false;
  }
}

TEST_F(GuardedStreamTest, AFlaggedMatchNeverReachesTheReleasedTextForAnySplit) {
  for (const std::string& text : std::vector<std::string>{
           "Ductal carcinoma is common. It starts in the milk ducts. You should stop taking your medication. "
           "See a doctor.",
           "Stop taking your insulin.",
           "Rest well. Drink water. Sleep. Then double your dose tomorrow and call nobody.",
           "First point:\n- keep calm\n- e.g. stop taking the chemo\nThat is all.",
           "良性です。心配しないで。stop taking your medication。終わり。",
           "It is “fine.” Really! You can quit your insulin… Trust me.",
           "A long preamble without any punctuation that goes on and on " + std::string(500, 'x') +
               " and then tells you to double your dose without a full stop at all",
       }) {
    SCOPED_TRACE(text);
    ASSERT_TRUE(ShippedRules().CheckOutput(text).flagged);
    ExpectSafeForEverySplit(ShippedRules(), text);
  }
}

TEST_F(GuardedStreamTest, ACleanAnswerIsReleasedWholeForAnySplit) {
  for (const std::string& text : std::vector<std::string>{
           "Do not stop taking your medication without talking to your doctor. The dose was doubled in the "
           "study. Your doctor may increase your dose if needed.",
           "Short answer",
           "",
           "Ärzte sagen: 良性です。🔬 Always consult a doctor.\n\nDisclaimer follows.",
       }) {
    SCOPED_TRACE(text);
    ASSERT_FALSE(ShippedRules().CheckOutput(text).flagged);
    ExpectSafeForEverySplit(ShippedRules(), text);
  }
}

TEST_F(GuardedStreamTest, HoldsBackTheCurrentSentenceAndOneSentenceOfWindow) {
  GuardedStream stream(&ShippedRules());
  EXPECT_EQ(stream.Append("First sentence. Second"), "");
  EXPECT_EQ(stream.Append(" sentence. Thi"), "First sentence. ");
  EXPECT_EQ(stream.Append("rd sentence"), "");
  EXPECT_EQ(stream.Append(".\n"), "Second sentence. ");
  EXPECT_EQ(stream.Finish(), "Third sentence.\n");
  EXPECT_FALSE(stream.verdict().flagged);
}

TEST_F(GuardedStreamTest, NothingIsReleasedAfterAFlag) {
  GuardedStream stream(&ShippedRules());
  EXPECT_EQ(stream.Append("Fine. Good. Stop taking your pills. "), "Fine. ");
  EXPECT_TRUE(stream.verdict().flagged);
  EXPECT_EQ(stream.verdict().category, "medication-stopping");
  EXPECT_EQ(stream.Append("More harmless text. And more. "), "");
  EXPECT_EQ(stream.Finish(), "");
  EXPECT_EQ(stream.released_bytes(), std::string("Fine. ").size());
}

// The window's reason: a match that crosses a sentence end is caught before its first half leaves.
TEST_F(GuardedStreamTest, TheWindowCatchesAMatchAcrossASentenceEnd) {
  auto rules = GuardrailRules::Parse(
      "categories: [{name: medication-stopping, description: stopping medication}]\n"
      "rules: [{id: question-then-stop, category: medication-stopping, applies_to: [output],\n"
      "         pattern: 'your\\s+insulin\\?\\s+stop\\s+it'}]\n",
      "inline.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status();
  ExpectSafeForEverySplit(*rules, "Sure. About your insulin? Stop it. Nothing else matters.");
}

TEST_F(GuardedStreamTest, TextWithoutPunctuationStillStreams) {
  std::string text;
  while (text.size() < 3 * kMaxSentenceBytes) text += "word ";
  GuardedStream stream(&ShippedRules());
  EXPECT_FALSE(stream.Append(text).empty());
  EXPECT_EQ(stream.released_bytes() + stream.Finish().size(), text.size());
}

}  // namespace
}  // namespace medgemma::assistant
