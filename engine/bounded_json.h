// JSON from outside (adapter directories: adapter_config.json and the safetensors header; HTTP
// request bodies), parsed with a bound on nesting and, optionally, on the number of values.
// nlohmann's parser is iterative, but copying, dumping and comparing a value recurse once per
// level: a 1 MB document nested 500000 deep parses and then overflows the stack of whoever touches
// it. And a document costs about 16 bytes a value: "[0,0,0,...]" of 64 MiB would take a GB.
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>

namespace medgemma {

// Far deeper than any real configuration or header (3 or 4 levels), far shallower than a stack.
inline constexpr int kMaxJsonDepth = 64;

// INVALID_ARGUMENT "<what> is not valid JSON: ..." or "<what>: nesting deeper than 64 levels";
// RESOURCE_EXHAUSTED "<what> holds more than N values" past `max_values` (scalars, lists and
// objects), whose values beyond the bound are discarded as they are parsed, never built.
absl::StatusOr<nlohmann::json> ParseBoundedJson(absl::string_view text, absl::string_view what,
                                                size_t max_values = std::numeric_limits<size_t>::max());

}  // namespace medgemma
