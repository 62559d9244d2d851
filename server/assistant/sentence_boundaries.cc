#include "server/assistant/sentence_boundaries.h"

#include <algorithm>

namespace medgemma::assistant {
namespace {

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

bool EndsWithAt(std::string_view text, size_t end, size_t floor, std::string_view suffix) {
  return end >= floor + suffix.size() && text.substr(end - suffix.size(), suffix.size()) == suffix;
}

// Back from `end` over closing quotes and brackets: `."` and `.)` end sentences as `.` does.
size_t SkipClosers(std::string_view text, size_t end, size_t floor) {
  for (;;) {
    if (end > floor && std::string_view("\"')]").find(text[end - 1]) != std::string_view::npos) {
      --end;
    } else if (EndsWithAt(text, end, floor, "\u2019") || EndsWithAt(text, end, floor, "\u201d")) {
      end -= 3;
    } else if (EndsWithAt(text, end, floor, "\u00bb")) {
      end -= 2;
    } else {
      return end;
    }
  }
}

// . ! ? or … ending at `end`: a sentence end once whitespace follows.
bool TerminatorEndsAt(std::string_view text, size_t end, size_t floor) {
  if (end > floor && std::string_view(".!?").find(text[end - 1]) != std::string_view::npos) return true;
  return EndsWithAt(text, end, floor, "\u2026");
}

// 。！？ ending at `end`: a sentence end by itself.
bool CjkTerminatorEndsAt(std::string_view text, size_t end, size_t floor) {
  return EndsWithAt(text, end, floor, "\u3002") || EndsWithAt(text, end, floor, "\uff01") ||
         EndsWithAt(text, end, floor, "\uff1f");
}

// Whether a sentence that started at `floor` ends just after text[p], punctuation and newlines only.
bool PunctuationEndAfter(std::string_view text, size_t p, size_t floor) {
  if (text[p] == '\n') return true;
  if (IsAsciiSpace(text[p])) return TerminatorEndsAt(text, SkipClosers(text, p, floor), floor);
  return CjkTerminatorEndsAt(text, p + 1, floor);
}

}  // namespace

size_t FindSentenceEnd(std::string_view text, size_t start, size_t scan_from) {
  for (size_t p = std::max(start, scan_from); p < text.size(); ++p) {
    if (PunctuationEndAfter(text, p, start)) return p + 1;
    if (IsAsciiSpace(text[p]) && p - start >= kMaxSentenceBytes) return p + 1;
  }
  return std::string::npos;
}

size_t SentenceStartBefore(std::string_view text, size_t pos, size_t max_lookback) {
  pos = std::min(pos, text.size());
  size_t floor = pos > max_lookback ? pos - max_lookback : 0;
  while (floor < pos && (static_cast<unsigned char>(text[floor]) & 0xC0) == 0x80) ++floor;
  for (size_t p = pos; p > floor; --p) {
    if (PunctuationEndAfter(text, p - 1, floor)) return p;
  }
  return floor;
}

}  // namespace medgemma::assistant
