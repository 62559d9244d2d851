// JSON from files that come from outside (adapter directories: adapter_config.json and the
// safetensors header), parsed with a bound on nesting. nlohmann's parser is iterative, but copying,
// dumping and comparing a value recurse once per level: a 1 MB document nested 500000 deep parses
// and then overflows the stack of whoever touches it.
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <nlohmann/json.hpp>

namespace medgemma {

// Far deeper than any real configuration or header (3 or 4 levels), far shallower than a stack.
inline constexpr int kMaxJsonDepth = 64;

// INVALID_ARGUMENT "<what> is not valid JSON: ..." or "<what>: nesting deeper than 64 levels".
absl::StatusOr<nlohmann::json> ParseBoundedJson(absl::string_view text, absl::string_view what);

}  // namespace medgemma
