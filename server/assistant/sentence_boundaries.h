// Sentence ends in streamed answer text, for GuardedStream's release window and the guardrail
// rules' "same sentence" context.
//
// A sentence ends after a newline; after the whitespace that follows . ! ? or … (closing quotes
// and brackets allowed in between: `."  `); after 。！？ (no space follows them in CJK text); and,
// so that text without punctuation still streams, at the first whitespace once it is
// kMaxSentenceBytes long. Every end is decided by the text before it alone, so an end found in a
// prefix of an answer is an end in the whole answer, whatever pieces the text arrived in, and an
// end always falls between UTF-8 sequences. Abbreviations ("e.g. ", "Dr. ") end sentences too:
// shorter sentences only make the guardrail window hold back less text, never let a match through
// unchecked (guarded_stream.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace medgemma::assistant {

inline constexpr size_t kMaxSentenceBytes = 400;

// The end (one past the last byte) of the sentence starting at `start`, looking for it from
// `scan_from` on (>= start: positions before it were looked at already and held no end), or
// std::string::npos when `text` holds no end yet.
size_t FindSentenceEnd(std::string_view text, size_t start, size_t scan_from);

// Where the sentence holding `pos` starts, found from the punctuation and newlines before it
// (not the length limit), at most `max_lookback` bytes back and on a UTF-8 sequence start.
size_t SentenceStartBefore(std::string_view text, size_t pos, size_t max_lookback);

}  // namespace medgemma::assistant
