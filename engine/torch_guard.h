// The one place where libtorch exceptions become absl::Status, so nothing past the engine boundary
// ever sees a c10::Error.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/str_cat.h>

#include <exception>
#include <string>

#include "base/status_macros.h"

namespace medgemma {

// Runs `fn` (returning Status or StatusOr<T>) and turns any exception into INTERNAL (or
// RESOURCE_EXHAUSTED for allocation failures), prefixed with `what`.
template <typename Fn>
auto GuardTorch(const std::string& what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  } catch (const std::exception& e) {
    std::string message = e.what();
    // c10::Error appends a C++ backtrace after the message; keep only the message.
    message = message.substr(0, message.find("\nException raised from"));
    if (message.find("out of memory") != std::string::npos) {
      return absl::ResourceExhaustedError(absl::StrCat(what, ": ", message));
    }
    return absl::InternalError(absl::StrCat(what, ": ", message));
  }
}

}  // namespace medgemma
