#include "server/assistant/guardrail_rules.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "base/file_util.h"
#include "base/status_macros.h"
#include "server/assistant/sentence_boundaries.h"

namespace medgemma::assistant {
namespace {

// How far back unless_preceded_by looks for the start of the match's sentence.
constexpr size_t kContextBytes = 200;

// Where a rule-file error is: "FILE:LINE: [rule 'ID': ]".
class Where {
 public:
  Where(std::string source, const YAML::Node& node, std::string what = "")
      : source_(std::move(source)), line_(node.Mark().line + 1), what_(std::move(what)) {}
  absl::Status Error(const std::string& message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ":", line_, ": ", what_.empty() ? "" : absl::StrCat(what_, ": "), message));
  }

 private:
  std::string source_;
  int line_;
  std::string what_;
};

absl::StatusOr<std::string> ScalarField(const YAML::Node& map, const std::string& key, const Where& where,
                                        bool required) {
  const YAML::Node value = map[key];
  if (!value) {
    if (required) return where.Error(absl::StrCat("`", key, "` is missing"));
    return std::string();
  }
  if (!value.IsScalar() || value.as<std::string>().empty()) {
    return where.Error(absl::StrCat("`", key, "` must be a non-empty string"));
  }
  return value.as<std::string>();
}

absl::Status OnlyKeys(const YAML::Node& map, const std::set<std::string>& allowed, const Where& where) {
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>();
    if (!allowed.count(key)) {
      return where.Error(absl::StrCat("unknown key `", key, "` (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

bool IsCategoryName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_';
  });
}

absl::StatusOr<std::unique_ptr<RE2>> Compile(const std::string& pattern, const Where& where, const std::string& key) {
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, options);
  if (!re->ok()) return where.Error(absl::StrCat("`", key, "` does not compile: ", re->error()));
  return re;
}

size_t NextSequenceStart(std::string_view text, size_t pos) {
  ++pos;
  while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
  return pos;
}

re2::StringPiece Piece(std::string_view s) { return re2::StringPiece(s.data(), s.size()); }

}  // namespace

absl::StatusOr<GuardrailRules> GuardrailRules::LoadFile(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("guardrail rules ", path, ": ", text.status().message()));
  }
  return Parse(*text, path);
}

absl::StatusOr<GuardrailRules> GuardrailRules::Parse(const std::string& yaml_text, const std::string& source) {
  GuardrailRules rules;
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    const Where top(source, root);
    if (!root.IsMap()) return top.Error("expected a mapping with `categories` and `rules`");
    MG_RETURN_IF_ERROR(OnlyKeys(root, {"categories", "rules"}, top));
    const YAML::Node categories = root["categories"], rule_nodes = root["rules"];
    if (!categories || !categories.IsSequence() || categories.size() == 0) {
      return top.Error("`categories` must be a non-empty list");
    }
    for (const YAML::Node& node : categories) {
      const Where where(source, node, "category");
      if (!node.IsMap()) return where.Error("expected a mapping with `name` and `description`");
      MG_RETURN_IF_ERROR(OnlyKeys(node, {"name", "description", "refusal"}, where));
      Category c;
      MG_ASSIGN_OR_RETURN(c.name, ScalarField(node, "name", where, true));
      const Where named(source, node, absl::StrCat("category '", c.name, "'"));
      if (!IsCategoryName(c.name)) return named.Error("names are lower-case letters, digits, - and _");
      for (const Category& other : rules.categories_) {
        if (other.name == c.name) return named.Error("declared twice");
      }
      MG_ASSIGN_OR_RETURN(c.description, ScalarField(node, "description", named, true));
      MG_ASSIGN_OR_RETURN(c.refusal, ScalarField(node, "refusal", named, false));
      rules.categories_.push_back(std::move(c));
    }
    if (!rule_nodes || !rule_nodes.IsSequence() || rule_nodes.size() == 0) {
      return top.Error("`rules` must be a non-empty list");
    }
    for (const YAML::Node& node : rule_nodes) {
      const Where unnamed(source, node, "rule");
      if (!node.IsMap()) return unnamed.Error("expected a mapping with `id`, `category`, `applies_to`, `pattern`");
      Rule r;
      MG_ASSIGN_OR_RETURN(r.id, ScalarField(node, "id", unnamed, true));
      const Where where(source, node, absl::StrCat("rule '", r.id, "'"));
      MG_RETURN_IF_ERROR(OnlyKeys(node, {"id", "category", "applies_to", "pattern", "unless_preceded_by"}, where));
      for (const Rule& other : rules.rules_) {
        if (other.id == r.id) return where.Error("id used twice");
      }
      MG_ASSIGN_OR_RETURN(std::string category, ScalarField(node, "category", where, true));
      const auto found = std::find_if(rules.categories_.begin(), rules.categories_.end(),
                                      [&](const Category& c) { return c.name == category; });
      if (found == rules.categories_.end()) return where.Error(absl::StrCat("unknown category '", category, "'"));
      r.category = found - rules.categories_.begin();
      const YAML::Node applies = node["applies_to"];
      if (!applies || !applies.IsSequence() || applies.size() == 0) {
        return where.Error("`applies_to` must be a non-empty list of input, output");
      }
      for (const YAML::Node& a : applies) {
        const std::string side = a.IsScalar() ? a.as<std::string>() : "";
        if (side != "input" && side != "output") return where.Error("`applies_to` entries are input or output");
        (side == "input" ? r.input : r.output) = true;
      }
      MG_ASSIGN_OR_RETURN(std::string pattern, ScalarField(node, "pattern", where, true));
      MG_ASSIGN_OR_RETURN(r.pattern, Compile(pattern, where, "pattern"));
      // A pattern that matches nothing at all would flag every text.
      if (RE2::PartialMatch("", *r.pattern)) return where.Error("`pattern` matches the empty text");
      MG_ASSIGN_OR_RETURN(std::string unless, ScalarField(node, "unless_preceded_by", where, false));
      if (!unless.empty()) {
        // Anchored at the match: only what comes right before it (spaces aside) excuses it.
        MG_ASSIGN_OR_RETURN(r.unless_preceded_by, Compile(absl::StrCat("(?:", unless, ")[\\s\\p{Z}]*$"), where,
                                                          "unless_preceded_by"));
      }
      rules.rules_.push_back(std::move(r));
    }
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", e.mark.line + 1, ": ", e.msg));
  }
  return rules;
}

GuardrailRules::Span GuardrailRules::FirstMatch(const Rule& rule, std::string_view text, size_t begin,
                                                size_t end) const {
  for (size_t pos = begin; pos < end;) {
    re2::StringPiece match;
    if (!rule.pattern->Match(Piece(text), pos, end, RE2::UNANCHORED, &match, 1)) return {};
    const size_t start = match.data() - text.data();
    if (!match.empty()) {
      const Span span{start, start + match.size()};
      if (rule.unless_preceded_by == nullptr) return span;
      const size_t context = SentenceStartBefore(text, start, kContextBytes);
      if (!RE2::PartialMatch(Piece(text.substr(context, start - context)), *rule.unless_preceded_by)) return span;
    }
    pos = NextSequenceStart(text, start);
  }
  return {};
}

GuardrailVerdict GuardrailRules::Check(std::string_view text, size_t begin, size_t end, bool output) const {
  GuardrailVerdict verdict;
  for (const Rule& rule : rules_) {
    if (!(output ? rule.output : rule.input)) continue;
    const Span at = FirstMatch(rule, text, begin, end);
    if (at.begin != std::string::npos && (!verdict.flagged || at.begin < verdict.match_begin)) {
      verdict = {true, categories_[rule.category].name, rule.id, at.begin, at.end};
    }
  }
  return verdict;
}

GuardrailVerdict GuardrailRules::CheckInput(std::string_view question) const {
  return Check(question, 0, question.size(), false);
}

GuardrailVerdict GuardrailRules::CheckOutput(std::string_view answer) const {
  return Check(answer, 0, answer.size(), true);
}

GuardrailVerdict GuardrailRules::CheckOutputSpan(std::string_view text, size_t begin, size_t end) const {
  return Check(text, begin, std::min(end, text.size()), true);
}

std::string GuardrailRules::Refusal(const GuardrailVerdict& verdict) const {
  for (const Category& c : categories_) {
    if (c.name != verdict.category) continue;
    if (!c.refusal.empty()) return c.refusal;
    return absl::StrCat("I can't help with that: it was stopped by the safety check for ", c.description,
                        " (category: ", c.name, "). Please talk to a doctor or pharmacist.");
  }
  return absl::StrCat("I can't help with that: it was stopped by a safety check (category: ", verdict.category,
                      "). Please talk to a doctor or pharmacist.");
}

}  // namespace medgemma::assistant
