#include "base/version.h"

#include <absl/strings/str_cat.h>

namespace medgemma {

const BuildInfo& GetBuildInfo() {
  static const BuildInfo info{MEDGEMMA_VERSION, MEDGEMMA_GIT_COMMIT, MEDGEMMA_TORCH_VERSION, MEDGEMMA_CUDA_VERSION};
  return info;
}

std::string VersionText(absl::string_view program) {
  const BuildInfo& b = GetBuildInfo();
  return absl::StrCat(program, " ", b.version, " (git ", b.commit, ", libtorch ", b.torch, ", CUDA ", b.cuda, ")");
}

}  // namespace medgemma
