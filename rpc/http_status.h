// The one place absl::Status becomes an HTTP status (the HTTP endpoint's counterpart of
// rpc/grpc_status.h), following the mapping of google.rpc.Code's documentation.
#pragma once

#include <absl/status/status.h>

namespace medgemma::rpc {

int HttpStatusOf(const absl::Status& status);

}  // namespace medgemma::rpc
