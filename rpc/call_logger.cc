#include "rpc/call_logger.h"

#include <absl/status/status.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status_code_enum.h>

#include <chrono>
#include <string>

#include "base/log.h"

namespace medgemma::rpc {
namespace {

class CallLogger final : public grpc::experimental::Interceptor {
 public:
  // The peer is read at the end of the call: it is not known yet when gRPC creates the interceptor.
  explicit CallLogger(grpc::experimental::ServerRpcInfo* info) : info_(info), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      Report(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void Report(const grpc::Status& status) const {
    const grpc::StatusCode code = status.error_code();
    const bool denied = code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED;
    if (!denied && !LogEnabled(LogLevel::kDebug)) return;
    const std::string method = info_->method();
    const std::string peer = info_->server_context()->peer();
    const std::string code_name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
    if (denied) {
      LogWarning("access denied",
                 {{"method", method}, {"peer", peer}, {"code", code_name}, {"reason", status.error_message()}});
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    LogDebug("call", {{"method", method}, {"peer", peer}, {"code", code_name}, {"ms", ms}});
  }

  grpc::experimental::ServerRpcInfo* const info_;  // gRPC's, alive for the whole call
  const std::chrono::steady_clock::time_point start_;
};

class CallLoggerFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new CallLogger(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeCallLoggerFactory() {
  return std::make_unique<CallLoggerFactory>();
}

}  // namespace medgemma::rpc
