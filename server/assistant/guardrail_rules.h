// The Assistant's guardrail rules: RE2 patterns with categories (medication stopping, dosage
// changes, self-harm, ...), loaded from a YAML file (config/guardrails.yaml documents the format),
// checked on the question (input) and on the answer (output).
//
// Matching is case-insensitive over UTF-8 (RE2: linear time, no backtracking blow-up on model
// output). A rule may name an `unless_preceded_by` pattern: a match right after it, in the same
// sentence, does not count. That is how advice against a dangerous act passes while the act does
// not: "Do not stop taking your medication" is excused by `do not` before the match, "Stop taking
// your medication" is flagged. Facts about doses ("the dose was doubled in the study") pass
// because the dosage patterns are instructions ("double your dose"), not the words alone.
//
// Immutable once loaded: any number of threads may check at once (RE2 matching is thread-safe).
#pragma once

#include <absl/status/statusor.h>
#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace medgemma::assistant {

struct GuardrailVerdict {
  bool flagged = false;
  std::string category;  // the rule's category name, e.g. "medication-stopping"
  std::string rule_id;
  size_t match_begin = 0;  // the match, as byte offsets in the checked text
  size_t match_end = 0;
};

class GuardrailRules {
 public:
  // Errors are InvalidArgument naming the file, the line and the rule.
  static absl::StatusOr<GuardrailRules> LoadFile(const std::string& path);
  // `source` names the text in errors (a file name).
  static absl::StatusOr<GuardrailRules> Parse(const std::string& yaml_text, const std::string& source);

  GuardrailVerdict CheckInput(std::string_view question) const;
  GuardrailVerdict CheckOutput(std::string_view answer) const;
  // Output rules' matches that start at or after `begin` and end by `end`; the text before `begin`
  // is context (word boundaries, unless_preceded_by). The earliest match wins.
  GuardrailVerdict CheckOutputSpan(std::string_view text, size_t begin, size_t end) const;

  // The answer that replaces a flagged one: it names the category.
  std::string Refusal(const GuardrailVerdict& verdict) const;

  size_t rule_count() const { return rules_.size(); }

 private:
  struct Category {
    std::string name, description, refusal;
  };
  struct Rule {
    std::string id;
    size_t category = 0;
    bool input = false, output = false;
    std::unique_ptr<RE2> pattern;
    std::unique_ptr<RE2> unless_preceded_by;  // null: none
  };

  GuardrailVerdict Check(std::string_view text, size_t begin, size_t end, bool output) const;
  struct Span {
    size_t begin = std::string::npos, end = std::string::npos;
  };
  // The first match of `rule` in text[begin, end) not excused by unless_preceded_by; begin npos if none.
  Span FirstMatch(const Rule& rule, std::string_view text, size_t begin, size_t end) const;

  std::vector<Category> categories_;
  std::vector<Rule> rules_;
};

}  // namespace medgemma::assistant
