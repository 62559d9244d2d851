// What --version prints and medgemma_build_info reports: the project's version, the git commit it
// was configured from, the libtorch it was built against and that libtorch's CUDA (all fixed when
// CMake configures the build).
#pragma once

#include <absl/strings/string_view.h>

#include <string>

namespace medgemma {

struct BuildInfo {
  std::string version, commit, torch;
  std::string cuda;  // the CUDA libtorch was built for; "none" for a CPU-only libtorch
};

const BuildInfo& GetBuildInfo();

// "medgemma-server 0.1.0 (git 97f0e61, libtorch 2.11.0, CUDA 13.0)"
std::string VersionText(absl::string_view program);

}  // namespace medgemma
