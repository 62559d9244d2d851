#include "rpc/unparsed_request.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_replace.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <string>
#include <utility>

namespace medgemma::rpc {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// "/medgemma.v1.Classifier/Classify" to its request type's full name, from the descriptors linked in.
std::string RequestTypeName(const std::string& method) {
  const std::string dotted = absl::StrReplaceAll(method.substr(method.empty() ? 0 : 1), {{"/", "."}});
  const google::protobuf::MethodDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(dotted);
  return descriptor != nullptr ? descriptor->input_type()->full_name() : absl::StrCat("request of ", method);
}

class UnparsedRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit UnparsedRequestInterceptor(ServerRpcInfo* info) : info_(info) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      const bool unparsed = std::exchange(internal::t_request_unparsed, false);
      if (methods->GetRecvMessage() == nullptr && (unparsed || ReadsOneRequest())) invalid_ = true;
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) && invalid_) {
      methods->ModifySendStatus(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("the request is not a valid ", RequestTypeName(info_->method()), " message")));
    }
    methods->Proceed();
  }

 private:
  // Such a call's request is read before the handler runs; it is missing only when it did not parse.
  bool ReadsOneRequest() const {
    return info_->type() == ServerRpcInfo::Type::UNARY || info_->type() == ServerRpcInfo::Type::SERVER_STREAMING;
  }

  ServerRpcInfo* const info_;  // gRPC's, alive for the whole call
  // Set on a read's thread, read on the one that finishes the call.
  std::atomic<bool> invalid_{false};
};

class UnparsedRequestInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new UnparsedRequestInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeUnparsedRequestInterceptorFactory() {
  return std::make_unique<UnparsedRequestInterceptorFactory>();
}

}  // namespace medgemma::rpc
