// medgemma.v1.Trainer over the job runner. Synchronous gRPC handlers: calls are rare and WatchJob
// simply blocks its handler thread on the runner's change notifications. Starting and cancelling
// jobs need the admin role; reading them the classify role.
#pragma once

#include "medgemma/v1/trainer.grpc.pb.h"
#include "rpc/auth.h"
#include "trainer/job_runner.h"

namespace medgemma::trainer {

class TrainerService final : public v1::Trainer::Service {
 public:
  TrainerService(JobRunner* runner, const rpc::TokenAuthorizer* auth) : runner_(runner), auth_(auth) {}

  grpc::Status StartFineTune(grpc::ServerContext* context, const v1::FineTuneRequest* request, v1::Job* job) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::JobStatus* status) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                        grpc::ServerWriter<v1::JobStatus>* writer) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::JobStatus* status) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;

 private:
  JobRunner* runner_;
  const rpc::TokenAuthorizer* auth_;
};

}  // namespace medgemma::trainer
