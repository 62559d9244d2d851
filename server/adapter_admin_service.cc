#include "server/adapter_admin_service.h"

#include "base/log.h"
#include "rpc/grpc_status.h"
#include "server/classifier_service.h"

namespace medgemma::server {

AdapterAdminService::AdapterAdminService(AdapterRegistry* registry, const rpc::TokenAuthorizer* auth,
                                         ServerMetrics* metrics)
    : registry_(registry), auth_(auth), metrics_(metrics) {}

grpc::ServerUnaryReactor* AdapterAdminService::Admin(grpc::CallbackServerContext* context,
                                                     const std::function<absl::Status()>& work) {
  auto* reactor = context->DefaultReactor();
  grpc::Status status = auth_->Check(*context, rpc::Role::kAdmin);
  if (status.ok()) {
    const absl::Status done = work();
    // The registry logs what changed; a refused change gets a line here (its message names the adapter).
    if (!done.ok()) {
      LogWarning("adapter change refused", {{"peer", context->peer()},
                                            {"code", absl::StatusCodeToString(done.code())},
                                            {"error", done.message()}});
    }
    status = rpc::ToGrpcStatus(done);
  }
  UpdateGauges();
  reactor->Finish(status);
  return reactor;
}

void AdapterAdminService::UpdateGauges() {
  metrics_->SetAdapters(static_cast<int>(registry_->List().size()), registry_->swaps());
}

grpc::ServerUnaryReactor* AdapterAdminService::LoadAdapter(grpc::CallbackServerContext* context,
                                                           const v1::LoadAdapterRequest* request, v1::AdapterInfo* response) {
  // Validation and loading run here, on a gRPC thread; the batcher keeps serving meanwhile.
  return Admin(context, [&]() -> absl::Status {
    auto loaded = registry_->Load(request->name(), request->path(), request->set_default());
    if (!loaded.ok()) return loaded.status();
    FillAdapterInfo(**loaded, registry_->default_name() == request->name(), response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdapterAdminService::UnloadAdapter(grpc::CallbackServerContext* context,
                                                             const v1::UnloadAdapterRequest* request,
                                                             v1::UnloadAdapterResponse*) {
  return Admin(context, [&] { return registry_->Unload(request->name()); });
}

grpc::ServerUnaryReactor* AdapterAdminService::ListAdapters(grpc::CallbackServerContext* context,
                                                            const v1::ListAdaptersRequest*,
                                                            v1::ListAdaptersResponse* response) {
  return Admin(context, [&]() -> absl::Status {
    const std::string default_name = registry_->default_name();
    response->set_default_adapter(default_name);
    for (const auto& adapter : registry_->List()) {
      FillAdapterInfo(*adapter, adapter->name == default_name, response->add_adapters());
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* AdapterAdminService::SetDefaultAdapter(grpc::CallbackServerContext* context,
                                                                 const v1::SetDefaultAdapterRequest* request,
                                                                 v1::AdapterInfo* response) {
  return Admin(context, [&]() -> absl::Status {
    auto handle = registry_->SetDefault(request->name());
    if (!handle.ok()) return handle.status();
    if (*handle) FillAdapterInfo(**handle, true, response);
    return absl::OkStatus();
  });
}

}  // namespace medgemma::server
