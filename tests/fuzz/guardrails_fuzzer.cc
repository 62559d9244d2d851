// Guardrail inputs from outside: a rules file (first input byte even) through GuardrailRules::Parse,
// or an answer (odd) streamed through GuardedStream against the shipped rules
// (config/guardrails.yaml), in pieces whose lengths the input's first byte seeds.
#include <algorithm>
#include <string>

#include "base/utf8.h"
#include "server/assistant/guarded_stream.h"
#include "server/assistant/guardrail_rules.h"
#include "server/assistant/sentence_boundaries.h"
#include "tests/fuzz/fuzz_target.h"

namespace {
using medgemma::assistant::GuardedStream;
using medgemma::assistant::GuardrailRules;
using medgemma::assistant::GuardrailVerdict;

const GuardrailRules& ShippedRules() {
  static const GuardrailRules* rules = [] {
    auto loaded = GuardrailRules::LoadFile(MEDGEMMA_CONFIG_DIR "/guardrails.yaml");
    MEDGEMMA_FUZZ_CHECK(loaded.ok());
    return new GuardrailRules(std::move(*loaded));
  }();
  return *rules;
}

// Sentence ends strictly inside text[begin, end).
size_t SentenceEndsWithin(std::string_view text, size_t begin, size_t end) {
  size_t count = 0;
  for (size_t start = 0;;) {
    start = medgemma::assistant::FindSentenceEnd(text, start, start);
    if (start == std::string::npos || start >= end) return count;
    if (start > begin) ++count;
  }
}

void StreamAnswer(const GuardrailRules& rules, std::string_view text, unsigned seed) {
  GuardedStream stream(&rules);
  std::string released;
  for (size_t at = 0; at < text.size();) {
    seed = seed * 1103515245u + 12345u;
    const size_t len = std::min<size_t>(1 + (seed >> 16) % 16, text.size() - at);
    const std::string chunk = stream.Append(text.substr(at, len));
    MEDGEMMA_FUZZ_CHECK(!medgemma::IsValidUtf8(text) || medgemma::IsValidUtf8(chunk));
    released += chunk;
    at += len;
  }
  released += stream.Finish();
  const GuardrailVerdict whole = rules.CheckOutput(text);
  MEDGEMMA_FUZZ_CHECK(stream.verdict().flagged == whole.flagged);
  MEDGEMMA_FUZZ_CHECK(text.substr(0, released.size()) == released);
  if (!whole.flagged) {
    MEDGEMMA_FUZZ_CHECK(released.size() == text.size());
  } else if (SentenceEndsWithin(text, whole.match_begin, whole.match_end) <= GuardedStream::kWindowSentences) {
    // The promise of guarded_stream.h: a match across at most the window's sentence ends is never shown.
    MEDGEMMA_FUZZ_CHECK(released.size() <= whole.match_begin);
  }
}
}  // namespace

MEDGEMMA_FUZZ_TARGET(guardrails) {
  if (data.empty()) return;
  const unsigned mode = static_cast<uint8_t>(data[0]);
  data.remove_prefix(1);
  if (mode % 2 == 0) {
    auto rules = GuardrailRules::Parse(std::string(data), "fuzz.yaml");
    if (!rules.ok()) {
      MEDGEMMA_FUZZ_CHECK(rules.status().code() == absl::StatusCode::kInvalidArgument);
      return;
    }
    MEDGEMMA_FUZZ_CHECK(rules->rule_count() > 0);
    const GuardrailVerdict input = rules->CheckInput(data);
    if (input.flagged) MEDGEMMA_FUZZ_CHECK(!rules->Refusal(input).empty());
    StreamAnswer(*rules, data, mode);
    return;
  }
  StreamAnswer(ShippedRules(), data, mode);
}
