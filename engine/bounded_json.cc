#include "engine/bounded_json.h"

#include <absl/strings/str_cat.h>

namespace medgemma {

absl::StatusOr<nlohmann::json> ParseBoundedJson(absl::string_view text, absl::string_view what, size_t max_values) {
  bool too_deep = false;
  size_t values = 0;
  // The callback sees each event with the number of containers around it. A container past the
  // depth bound, and any value past the count, is discarded (nothing of it is built); the parse
  // goes on only to check the text's syntax.
  using Event = nlohmann::json::parse_event_t;
  const nlohmann::json::parser_callback_t bound = [&too_deep, &values, max_values](int depth, Event event, nlohmann::json&) {
    const bool opens = event == Event::object_start || event == Event::array_start;
    if (opens || event == Event::value) ++values;
    if (values > max_values) return false;
    if (!opens || depth < kMaxJsonDepth) return true;
    too_deep = true;
    return false;
  };
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(text.begin(), text.end(), bound);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not valid JSON: ", e.what()));
  }
  if (too_deep) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": nesting deeper than ", kMaxJsonDepth, " levels"));
  }
  if (values > max_values) return absl::ResourceExhaustedError(absl::StrCat(what, " holds more than ", max_values, " values"));
  return parsed;
}

}  // namespace medgemma
