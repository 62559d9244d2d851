// Status plumbing shared by the engine: early-return macros and the one place where libtorch
// exceptions become absl::Status, so nothing past the engine boundary ever sees a c10::Error.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <absl/strings/str_cat.h>

#include <exception>
#include <string>
#include <type_traits>

#define MG_CONCAT_INNER(a, b) a##b
#define MG_CONCAT(a, b) MG_CONCAT_INNER(a, b)

#define MG_RETURN_IF_ERROR(expr)                   \
  do {                                             \
    absl::Status mg_status_ = (expr);              \
    if (!mg_status_.ok()) return mg_status_;       \
  } while (0)

#define MG_ASSIGN_OR_RETURN(lhs, expr) \
  MG_ASSIGN_OR_RETURN_IMPL(MG_CONCAT(mg_statusor_, __LINE__), lhs, expr)
#define MG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(*tmp)

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
