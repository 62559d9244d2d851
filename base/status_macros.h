// Early-return macros for absl::Status / absl::StatusOr, used by every layer.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>


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
