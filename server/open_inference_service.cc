#include "server/open_inference_service.h"

#include "base/version.h"
#include "rpc/grpc_status.h"
#include "server/classifier_service.h"

namespace medgemma::server {
namespace {
// Answers an authorized call with `answer()`'s message or status.
template <class Response, class Answer>
grpc::ServerUnaryReactor* Respond(grpc::CallbackServerContext* context, const rpc::TokenAuthorizer* auth,
                                  Response* response, Answer answer) {
  auto* reactor = context->DefaultReactor();
  grpc::Status allowed = auth->Check(*context, rpc::Role::kClassify);
  if (!allowed.ok()) {
    reactor->Finish(allowed);
    return reactor;
  }
  absl::StatusOr<Response> result = answer();
  if (result.ok()) *response = *std::move(result);
  reactor->Finish(rpc::ToGrpcStatus(result.status()));
  return reactor;
}
}  // namespace

inference::ServerMetadataResponse OipServerMetadata() {
  inference::ServerMetadataResponse r;
  r.set_name("medgemma-server");
  r.set_version(GetBuildInfo().version);
  r.add_extensions("model_configuration");
  r.add_extensions("statistics");
  return r;
}

grpc::ServerUnaryReactor* OpenInferenceService::ServerLive(grpc::CallbackServerContext* context,
                                                           const inference::ServerLiveRequest*,
                                                           inference::ServerLiveResponse* response) {
  response->set_live(true);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OpenInferenceService::ServerReady(grpc::CallbackServerContext* context,
                                                            const inference::ServerReadyRequest*,
                                                            inference::ServerReadyResponse* response) {
  response->set_ready(model_->serving());
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OpenInferenceService::ModelReady(grpc::CallbackServerContext* context,
                                                           const inference::ModelReadyRequest* request,
                                                           inference::ModelReadyResponse* response) {
  return Respond(context, auth_, response, [&]() -> absl::StatusOr<inference::ModelReadyResponse> {
    inference::ModelReadyResponse r;
    r.set_ready(model_->serving() && model_->CheckServed(request->name(), request->version()).ok());
    return r;
  });
}

grpc::ServerUnaryReactor* OpenInferenceService::ServerMetadata(grpc::CallbackServerContext* context,
                                                               const inference::ServerMetadataRequest*,
                                                               inference::ServerMetadataResponse* response) {
  return Respond(context, auth_, response,
                 []() -> absl::StatusOr<inference::ServerMetadataResponse> { return OipServerMetadata(); });
}

grpc::ServerUnaryReactor* OpenInferenceService::ModelMetadata(grpc::CallbackServerContext* context,
                                                              const inference::ModelMetadataRequest* request,
                                                              inference::ModelMetadataResponse* response) {
  return Respond(context, auth_, response, [&] { return model_->Metadata(request->name(), request->version()); });
}

grpc::ServerUnaryReactor* OpenInferenceService::ModelConfig(grpc::CallbackServerContext* context,
                                                            const inference::ModelConfigRequest* request,
                                                            inference::ModelConfigResponse* response) {
  return Respond(context, auth_, response, [&] { return model_->Config(request->name(), request->version()); });
}

grpc::ServerUnaryReactor* OpenInferenceService::ModelStatistics(grpc::CallbackServerContext* context,
                                                                const inference::ModelStatisticsRequest* request,
                                                                inference::ModelStatisticsResponse* response) {
  return Respond(context, auth_, response, [&] { return model_->Statistics(request->name()); });
}

grpc::ServerUnaryReactor* OpenInferenceService::ModelInfer(grpc::CallbackServerContext* context,
                                                           const inference::ModelInferRequest* request,
                                                           inference::ModelInferResponse* response) {
  auto* reactor = context->DefaultReactor();
  AuditedCall call{"inference.ModelInfer"};
  const absl::StatusOr<rpc::Caller> caller = auth_->Authorize(*context, rpc::Role::kClassify);
  if (!caller.ok()) {
    call.request_id = request->id();
    AuditClassification(*audit_, call, caller.status(), {});
    reactor->Finish(rpc::ToGrpcStatus(caller.status()));
    return reactor;
  }
  call.caller = caller->name;
  model_->Infer(*request, std::move(call), DeadlineOf(*context), [context] { return context->IsCancelled(); },
                [reactor, response](absl::StatusOr<inference::ModelInferResponse> result) {
                  if (result.ok()) *response = *std::move(result);
                  reactor->Finish(rpc::ToGrpcStatus(result.status()));
                });
  return reactor;
}

}  // namespace medgemma::server
