// inference.GRPCInferenceService (the Open Inference Protocol, KServe v2, with Triton's
// ModelConfig and ModelStatistics that perf_analyzer asks for) over gRPC's callback API, beside
// medgemma.v1.Classifier on the same port. Authorization, deadlines and cancellation come from the
// call; the model is the OipModel. ServerLive and ServerReady need no token (they are probes, like
// grpc.health.v1); everything else needs the classify role. RPCs not listed here (repository,
// shared memory, tracing, logging, streaming) answer UNIMPLEMENTED.
#pragma once

#include "inference/grpc_service.grpc.pb.h"
#include "rpc/auth.h"
#include "server/oip_model.h"

namespace medgemma::server {

class OpenInferenceService final : public inference::GRPCInferenceService::CallbackService {
 public:
  // Refused ModelInfer calls get their audit line here, the rest in OipModel::Infer.
  OpenInferenceService(OipModel* model, const rpc::TokenAuthorizer* auth, AuditLog* audit)
      : model_(model), auth_(auth), audit_(audit) {}

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context, const inference::ServerLiveRequest* request,
                                       inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest* request,
                                        inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context, const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest* request,
                                           inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context, const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) override;
  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context, const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override;

 private:
  OipModel* model_;
  const rpc::TokenAuthorizer* auth_;
  AuditLog* audit_;
};

// ServerMetadata's answer, shared with the HTTP endpoint.
inference::ServerMetadataResponse OipServerMetadata();

}  // namespace medgemma::server
