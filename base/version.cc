#include "base/version.h"

#include <absl/strings/str_cat.h>

namespace medgemma {

std::string VersionText(absl::string_view program) {
  return absl::StrCat(program, " ", MEDGEMMA_VERSION, " (git ", MEDGEMMA_GIT_COMMIT, ", libtorch ",
                      MEDGEMMA_TORCH_VERSION, ")");
}

}  // namespace medgemma
