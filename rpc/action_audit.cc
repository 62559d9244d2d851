#include "rpc/action_audit.h"

#include <absl/status/status.h>
#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/server_context.h>

#include <cctype>
#include <chrono>

namespace medgemma::rpc {
namespace {
constexpr size_t kMaxRequestJson = 2048;

class ActionAuditor final : public grpc::experimental::Interceptor {
 public:
  ActionAuditor(grpc::experimental::ServerRpcInfo* info, const ActionAudit* audit)
      : info_(info), audit_(audit), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) && request_.empty()) {
      // Every method of the audited services takes a generated protobuf message.
      if (const void* message = methods->GetRecvMessage()) {
        (void)google::protobuf::util::MessageToJsonString(*static_cast<const google::protobuf::Message*>(message), &request_);
        if (request_.size() > kMaxRequestJson) request_ = JsonQuote(request_.substr(0, kMaxRequestJson) + "... (cut)");
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) Write(methods->GetSendStatus());
    methods->Proceed();
  }

 private:
  void Write(const grpc::Status& status) const {
    const auto& metadata = info_->server_context()->client_metadata();
    const auto it = metadata.find("authorization");
    const absl::StatusOr<Caller> caller = audit_->auth->Authorize(
        it == metadata.end() ? absl::string_view() : absl::string_view(it->second.data(), it->second.size()),
        Role::kClassify);
    std::string code = absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
    for (char& c : code) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::vector<LogField> fields = {
        {"method", info_->method()},
        {"caller", caller.ok() ? caller->name : std::string()},
        {"peer", info_->server_context()->peer()},
        {"code", code},
        {"latency_ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count()},
        LogField::Json("request", request_.empty() ? "null" : request_)};
    if (!status.ok()) fields.emplace_back("error", status.error_message());
    audit_->log->Write("action", fields);
  }

  grpc::experimental::ServerRpcInfo* const info_;
  const ActionAudit* const audit_;
  const std::chrono::steady_clock::time_point start_;
  std::string request_;
};

class ActionAuditFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ActionAuditFactory(ActionAudit audit) : audit_(std::move(audit)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    for (const std::string& service : audit_.services) {
      if (absl::StartsWith(info->method(), absl::StrCat("/", service, "/"))) return new ActionAuditor(info, &audit_);
    }
    return nullptr;  // not audited here
  }

 private:
  const ActionAudit audit_;
};
}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeActionAuditFactory(ActionAudit audit) {
  return std::make_unique<ActionAuditFactory>(std::move(audit));
}

}  // namespace medgemma::rpc
