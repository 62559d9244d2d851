#include "server/adapter_admin_service.h"

#include "base/log.h"
#include "rpc/grpc_status.h"
#include "server/classifier_service.h"

namespace medgemma::server {

AdapterAdminService::AdapterAdminService(AdapterRegistry* registry, AdapterLoader* loader,
                                         const rpc::TokenAuthorizer* auth, ServerMetrics* metrics)
    : registry_(registry), loader_(loader), auth_(auth), metrics_(metrics) {}

grpc::ServerUnaryReactor* AdapterAdminService::Admin(grpc::CallbackServerContext* context,
                                                     const std::function<absl::Status()>& work) {
  auto* reactor = context->DefaultReactor();
  const grpc::Status allowed = auth_->Check(*context, rpc::Role::kAdmin);
  if (!allowed.ok()) {
    reactor->Finish(allowed);
    return reactor;
  }
  Finish(reactor, context->peer(), work());
  return reactor;
}

void AdapterAdminService::Finish(grpc::ServerUnaryReactor* reactor, const std::string& peer, const absl::Status& done) {
  // The registry logs what changed; a refused change gets a line here (its message names the adapter).
  if (!done.ok()) {
    LogWarning("adapter change refused",
               {{"peer", peer}, {"code", absl::StatusCodeToString(done.code())}, {"error", done.message()}});
  }
  UpdateGauges();
  reactor->Finish(rpc::ToGrpcStatus(done));
}

void AdapterAdminService::UpdateGauges() {
  metrics_->SetAdapters(static_cast<int>(registry_->List().size()), registry_->swaps());
}

grpc::ServerUnaryReactor* AdapterAdminService::LoadAdapter(grpc::CallbackServerContext* context,
                                                           const v1::LoadAdapterRequest* request, v1::AdapterInfo* response) {
  // The load runs on the loader's thread; this gRPC thread returns at once, and the call is
  // answered when the loader is done (or its timeout has passed).
  auto* reactor = context->DefaultReactor();
  const grpc::Status allowed = auth_->Check(*context, rpc::Role::kAdmin);
  if (!allowed.ok()) {
    reactor->Finish(allowed);
    return reactor;
  }
  const std::string name = request->name(), peer = context->peer();
  const absl::Status submitted = loader_->Submit(
      request->name(), request->path(), request->set_default(),
      [this, reactor, response, name, peer](absl::StatusOr<AdapterHandle> loaded) {
        if (loaded.ok()) FillAdapterInfo(**loaded, registry_->default_name() == name, response);
        Finish(reactor, peer, loaded.status());
      });
  if (!submitted.ok()) Finish(reactor, peer, submitted);
  return reactor;
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
