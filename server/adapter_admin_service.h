// medgemma.v1.AdapterAdmin: admin-role calls that load, swap and unload adapters while serving.
#pragma once

#include "medgemma/v1/classifier.grpc.pb.h"
#include "rpc/auth.h"
#include "server/adapter_loader.h"
#include "server/adapter_registry.h"
#include "server/server_metrics.h"

namespace medgemma::server {

class AdapterAdminService final : public v1::AdapterAdmin::CallbackService {
 public:
  AdapterAdminService(AdapterRegistry* registry, AdapterLoader* loader, const rpc::TokenAuthorizer* auth,
                      ServerMetrics* metrics);

  grpc::ServerUnaryReactor* LoadAdapter(grpc::CallbackServerContext* context, const v1::LoadAdapterRequest* request,
                                        v1::AdapterInfo* response) override;
  grpc::ServerUnaryReactor* UnloadAdapter(grpc::CallbackServerContext* context, const v1::UnloadAdapterRequest* request,
                                          v1::UnloadAdapterResponse* response) override;
  grpc::ServerUnaryReactor* ListAdapters(grpc::CallbackServerContext* context, const v1::ListAdaptersRequest* request,
                                         v1::ListAdaptersResponse* response) override;
  grpc::ServerUnaryReactor* SetDefaultAdapter(grpc::CallbackServerContext* context,
                                              const v1::SetDefaultAdapterRequest* request,
                                              v1::AdapterInfo* response) override;

 private:
  // Runs `work` if the caller is an admin and finishes the call with its status.
  grpc::ServerUnaryReactor* Admin(grpc::CallbackServerContext* context, const std::function<absl::Status()>& work);
  // Logs a refused change, refreshes the adapter gauges and answers the call.
  void Finish(grpc::ServerUnaryReactor* reactor, const std::string& peer, const absl::Status& done);
  void UpdateGauges();

  AdapterRegistry* registry_;
  AdapterLoader* loader_;
  const rpc::TokenAuthorizer* auth_;
  ServerMetrics* metrics_;
};

}  // namespace medgemma::server
