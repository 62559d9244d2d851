// What --version prints: the project's version, the git commit it was configured from, and the
// libtorch it was built against (all fixed when CMake configures the build).
#pragma once

#include <absl/strings/string_view.h>

#include <string>

namespace medgemma {

// "medgemma-server 0.1.0 (git 97f0e61, libtorch 2.11.0)"
std::string VersionText(absl::string_view program);

}  // namespace medgemma
