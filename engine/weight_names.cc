#include "engine/weight_names.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>

#include <utility>

namespace medgemma {
namespace {
using PrefixRule = std::pair<const char*, const char*>;

// Rewrites the first rule's prefix that `name` starts with; names matching none stay as they are.
template <size_t N>
std::string RewriteFirstPrefix(const std::string& name, const PrefixRule (&rules)[N]) {
  for (const auto& [from, to] : rules) {
    if (absl::StartsWith(name, from)) return to + name.substr(std::string(from).size());
  }
  return name;
}
}  // namespace

std::string CanonicalTensorName(const std::string& name) {
  static const PrefixRule kRules[] = {
      {"language_model.model.", "model.language_model."},
      {"language_model.lm_head.", "lm_head."},
      {"model.vision_tower.vision_model.", "model.vision_tower."},
      {"vision_tower.vision_model.", "model.vision_tower."},
      {"vision_tower.", "model.vision_tower."},
      {"multi_modal_projector.", "model.multi_modal_projector."},
  };
  return RewriteFirstPrefix(name, kRules);
}

std::string SavedTensorName(const std::string& canonical) {
  static const PrefixRule kRules[] = {
      {"model.language_model.", "language_model.model."},
      {"model.vision_tower.", "vision_tower."},
      {"model.multi_modal_projector.", "multi_modal_projector."},
  };
  return RewriteFirstPrefix(canonical, kRules);
}

}  // namespace medgemma
