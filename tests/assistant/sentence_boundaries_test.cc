#include "server/assistant/sentence_boundaries.h"

#include <gtest/gtest.h>

#include <string>

namespace medgemma::assistant {
namespace {

size_t End(const std::string& text) { return FindSentenceEnd(text, 0, 0); }

TEST(SentenceBoundariesTest, EndsAfterPunctuationAndTheSpaceAfterIt) {
  EXPECT_EQ(End("Hello. World"), 7u);
  EXPECT_EQ(End("Really?! Yes"), 9u);
  EXPECT_EQ(End("He said \"stop.\" Then"), 16u);
  EXPECT_EQ(End("Quoted “fine.” Then"), std::string("Quoted “fine.” ").size());
  EXPECT_EQ(End("Wait… what"), std::string("Wait… ").size());
  EXPECT_EQ(End("line one\nline two"), 9u);
  EXPECT_EQ(End("良性です。次"), std::string("良性です。").size());
  EXPECT_EQ(End("本当？はい"), std::string("本当？").size());
}

TEST(SentenceBoundariesTest, NoEndYet) {
  EXPECT_EQ(End("Take 2.5 mg daily"), std::string::npos);  // a decimal point is no end
  EXPECT_EQ(End("Hello."), std::string::npos);             // the space after it decides
  EXPECT_EQ(End("良性です\xe3\x80"), std::string::npos);     // 。 cut in half
  EXPECT_EQ(End(""), std::string::npos);
}

TEST(SentenceBoundariesTest, LongTextEndsAtTheFirstSpaceAfterTheLimit) {
  const std::string text = std::string(kMaxSentenceBytes + 10, 'a') + " b";
  EXPECT_EQ(End(text), kMaxSentenceBytes + 11);
  EXPECT_EQ(End(std::string(2 * kMaxSentenceBytes, 'a')), std::string::npos);
}

TEST(SentenceBoundariesTest, AnEndFoundInAPrefixIsTheEndInTheWholeText) {
  const std::string text = "One. Two? “Three.” Four\nFive… 六。Seven";
  size_t start = 0;
  while (true) {
    const size_t whole = FindSentenceEnd(text, start, start);
    for (size_t n = start; n <= text.size(); ++n) {
      const size_t prefix = FindSentenceEnd(std::string_view(text).substr(0, n), start, start);
      if (whole == std::string::npos || n < whole) {
        EXPECT_EQ(prefix, std::string::npos) << n;
      } else {
        EXPECT_EQ(prefix, whole) << n;
      }
    }
    if (whole == std::string::npos) break;
    start = whole;
  }
}

TEST(SentenceBoundariesTest, SentenceStartBefore) {
  const std::string text = "First one. Do not stop";
  EXPECT_EQ(SentenceStartBefore(text, text.size(), 200), 11u);
  EXPECT_EQ(SentenceStartBefore(text, 5, 200), 0u);
  EXPECT_EQ(SentenceStartBefore(text, text.size(), 4), text.size() - 4);
  const std::string cjk = "前の文。今の文";
  EXPECT_EQ(SentenceStartBefore(cjk, cjk.size(), 200), std::string("前の文。").size());
  // The look-back limit never lands inside a UTF-8 sequence.
  EXPECT_EQ(SentenceStartBefore("文文", 6, 4), 3u);
}

}  // namespace
}  // namespace medgemma::assistant
