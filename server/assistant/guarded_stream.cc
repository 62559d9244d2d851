#include "server/assistant/guarded_stream.h"

#include "server/assistant/sentence_boundaries.h"

namespace medgemma::assistant {

std::string GuardedStream::Append(std::string_view piece) {
  if (finished_ || verdict_.flagged) return "";
  text_.append(piece);
  std::string out;
  for (;;) {
    const size_t end = FindSentenceEnd(text_, sentence_ends_.back(), scanned_);
    if (end == std::string::npos) break;
    sentence_ends_.push_back(end);
    const size_t complete = sentence_ends_.size() - 1;
    // The window: the sentence just completed and the kWindowSentences before it.
    const size_t window_begin = sentence_ends_[complete > kWindowSentences ? complete - kWindowSentences - 1 : 0];
    verdict_ = rules_->CheckOutputSpan(text_, window_begin, end);
    if (verdict_.flagged) return out;
    if (complete > kWindowSentences) {
      const size_t release_to = sentence_ends_[complete - kWindowSentences];
      out.append(text_, released_, release_to - released_);
      released_ = release_to;
    }
  }
  scanned_ = text_.size();
  return out;
}

std::string GuardedStream::Finish() {
  if (finished_ || verdict_.flagged) return "";
  finished_ = true;
  verdict_ = rules_->CheckOutput(text_);
  if (verdict_.flagged) return "";
  std::string rest = text_.substr(released_);
  released_ = text_.size();
  return rest;
}

}  // namespace medgemma::assistant
