#include "engine/bounded_json.h"

#include <absl/strings/str_cat.h>

namespace medgemma {

absl::StatusOr<nlohmann::json> ParseBoundedJson(absl::string_view text, absl::string_view what) {
  bool too_deep = false;
  // The callback sees each event with the number of containers around it. A container past the
  // bound is discarded (nothing of it is built); the parse goes on only to check the text's syntax.
  using Event = nlohmann::json::parse_event_t;
  const nlohmann::json::parser_callback_t bound = [&too_deep](int depth, Event event, nlohmann::json&) {
    const bool opens = event == Event::object_start || event == Event::array_start;
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
  return parsed;
}

}  // namespace medgemma
