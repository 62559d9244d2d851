// The one place absl::Status becomes grpc::Status (and back, for clients).
#pragma once

#include <absl/status/status.h>
#include <grpcpp/support/status.h>

namespace medgemma::rpc {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace medgemma::rpc
