// A server interceptor that logs calls: every call refused for want of credentials or rights
// (UNAUTHENTICATED, PERMISSION_DENIED) as a warning with its method, peer and reason; and, at
// debug level (off by default), every call with its status code and duration. It sees the status
// and never the metadata, so no token can reach the log.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>

namespace medgemma::rpc {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeCallLoggerFactory();

}  // namespace medgemma::rpc
