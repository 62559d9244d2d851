// medgemma.v1.Classifier over gRPC's callback API: authorization, deadlines and cancellation
// taken from the call, everything else delegated to the ClassificationPipeline.
#pragma once

#include "medgemma/v1/classifier.grpc.pb.h"
#include "base/audit_log.h"
#include "rpc/auth.h"
#include "server/classification_pipeline.h"

namespace medgemma::server {

class ClassifierService final : public v1::Classifier::CallbackService {
 public:
  // `model_info` answers GetModelInfo, with the adapter list filled per call from `registry`.
  // A stream is not read further while its requests in flight hold `max_stream_inflight_bytes`.
  // Every request gets its line in `audit` (server/classification_audit.h).
  ClassifierService(ClassificationPipeline* pipeline, const rpc::TokenAuthorizer* auth, const AdapterRegistry* registry,
                    v1::ModelInfo model_info, int64_t max_stream_inflight_bytes, AuditLog* audit);

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context, const v1::ClassifyRequest* request,
                                     v1::ClassifyResponse* response) override;
  grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResponse>* ClassifyStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context, const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

 private:
  ClassificationPipeline* pipeline_;
  const rpc::TokenAuthorizer* auth_;
  const AdapterRegistry* registry_;
  const v1::ModelInfo model_info_;
  const int64_t max_stream_inflight_bytes_;
  AuditLog* audit_;
};

// Deadline of a gRPC call on the steady clock (max when the caller set none).
Clock::time_point DeadlineOf(const grpc::CallbackServerContext& context);
void FillAdapterInfo(const ServedAdapter& adapter, bool is_default, v1::AdapterInfo* info);

}  // namespace medgemma::server
