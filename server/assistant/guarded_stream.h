// Streaming with guardrails: an answer's decoded text goes through a GuardedStream, which releases
// it to the client only once the guardrail rules have seen it together with what follows it.
//
// What is held back: the sentence being written, plus the last kWindowSentences complete sentences
// (sentence_boundaries.h). When a sentence completes, the window ending with it is checked
// (GuardrailRules::CheckOutputSpan); if clean, the sentence that leaves the window is released.
// Why hold a window and not just the incomplete sentence: a match can cross a sentence end —
// an abbreviation or a list number ends a "sentence" early ("e.g. stop taking it"), text without
// punctuation is cut at kMaxSentenceBytes, and a phrase can straddle a real end ("Your insulin?
// Stop it.") — and the first half must not have left before the second half arrives. One sentence
// of window covers every match that spans at most one sentence end; the rules are short phrases.
// A longer match is still caught by Finish(), which checks the whole answer, but its beginning
// may have been shown: the caller replaces the answer by the refusal either way.
//
// On a flag nothing more is released; the caller replaces the answer by rules.Refusal(verdict())
// (its clients drop what they showed). The cost is latency: the first text reaches the client
// after two sentences instead of the first token. Releases fall between UTF-8 sequences, so a
// piece cut inside a multi-byte character is never passed on half.
//
// Not thread-safe: one stream per answer, driven by the thread that decodes it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/assistant/guardrail_rules.h"

namespace medgemma::assistant {

class GuardedStream {
 public:
  static constexpr size_t kWindowSentences = 1;

  // `rules` must outlive the stream.
  explicit GuardedStream(const GuardrailRules* rules) : rules_(rules) {}

  // The next decoded piece; returns the text that may now be shown (often empty). Empty once
  // flagged or finished.
  std::string Append(std::string_view piece);
  // Decoding ended: checks the whole answer, and returns the rest unless it was flagged.
  std::string Finish();

  const GuardrailVerdict& verdict() const { return verdict_; }
  const std::string& text() const { return text_; }  // everything appended
  size_t released_bytes() const { return released_; }

 private:
  const GuardrailRules* rules_;
  std::string text_;
  std::vector<size_t> sentence_ends_ = {0};  // 0, then the end of each complete sentence
  size_t scanned_ = 0;                       // no sentence ends before this past the last one
  size_t released_ = 0;
  bool finished_ = false;
  GuardrailVerdict verdict_;
};

}  // namespace medgemma::assistant
