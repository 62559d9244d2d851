#include "engine/weight_names.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>

#include <utility>

namespace medgemma {
namespace {
// Replaces `from` at the start of `name` by `to`; returns false if `name` does not start with it.
bool ReplacePrefix(std::string* name, const std::string& from, const std::string& to) {
  if (!absl::StartsWith(*name, from)) return false;
  *name = to + name->substr(from.size());
  return true;
}
}  // namespace

std::string CanonicalTensorName(const std::string& name) {
  std::string out = name;
  static const std::pair<const char*, const char*> kRules[] = {
      {"language_model.model.", "model.language_model."},
      {"language_model.lm_head.", "lm_head."},
      {"model.vision_tower.vision_model.", "model.vision_tower."},
      {"vision_tower.vision_model.", "model.vision_tower."},
      {"vision_tower.", "model.vision_tower."},
      {"multi_modal_projector.", "model.multi_modal_projector."},
  };
  for (const auto& [from, to] : kRules) {
    if (ReplacePrefix(&out, from, to)) break;
  }
  return out;
}

std::string SavedTensorName(const std::string& canonical) {
  std::string out = canonical;
  static const std::pair<const char*, const char*> kRules[] = {
      {"model.language_model.", "language_model.model."},
      {"model.vision_tower.", "vision_tower."},
      {"model.multi_modal_projector.", "multi_modal_projector."},
  };
  for (const auto& [from, to] : kRules) {
    if (ReplacePrefix(&out, from, to)) break;
  }
  return out;
}

}  // namespace medgemma
