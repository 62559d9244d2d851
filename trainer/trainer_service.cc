#include "trainer/trainer_service.h"

#include "rpc/grpc_status.h"

namespace medgemma::trainer {
namespace {
constexpr auto kCancelWait = std::chrono::seconds(30);
constexpr auto kWatchPoll = std::chrono::milliseconds(500);

bool Ended(v1::JobState state) { return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED; }
}  // namespace

grpc::Status TrainerService::StartFineTune(grpc::ServerContext* context, const v1::FineTuneRequest* request,
                                           v1::Job* job) {
  if (grpc::Status s = auth_->Check(*context, rpc::Role::kAdmin); !s.ok()) return s;
  auto submitted = runner_->Submit(*request);
  if (!submitted.ok()) return rpc::ToGrpcStatus(submitted.status());
  *job = *submitted;
  return grpc::Status::OK;
}

grpc::Status TrainerService::GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                                       v1::JobStatus* status) {
  if (grpc::Status s = auth_->Check(*context, rpc::Role::kClassify); !s.ok()) return s;
  auto found = runner_->Get(request->job_id());
  if (!found.ok()) return rpc::ToGrpcStatus(found.status());
  *status = *found;
  return grpc::Status::OK;
}

grpc::Status TrainerService::WatchJob(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                                      grpc::ServerWriter<v1::JobStatus>* writer) {
  if (grpc::Status s = auth_->Check(*context, rpc::Role::kClassify); !s.ok()) return s;
  uint64_t seen = 0;
  while (!context->IsCancelled()) {
    // Wakes on every change, and at least every poll period to notice a departed client; ends with
    // UNAVAILABLE once the trainer is shutting down.
    auto update = runner_->WaitForUpdate(request->job_id(), seen, std::chrono::system_clock::now() + kWatchPoll);
    if (!update.ok()) return rpc::ToGrpcStatus(update.status());
    if (update->version == seen) continue;
    seen = update->version;
    if (!writer->Write(update->status)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    if (Ended(update->status.state())) return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
}

grpc::Status TrainerService::CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                                       v1::JobStatus* status) {
  if (grpc::Status s = auth_->Check(*context, rpc::Role::kAdmin); !s.ok()) return s;
  auto cancelled = runner_->Cancel(request->job_id(), kCancelWait);
  if (!cancelled.ok()) return rpc::ToGrpcStatus(cancelled.status());
  *status = *cancelled;
  return grpc::Status::OK;
}

grpc::Status TrainerService::ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest*,
                                      v1::ListJobsResponse* response) {
  if (grpc::Status s = auth_->Check(*context, rpc::Role::kClassify); !s.ok()) return s;
  for (auto& status : runner_->List()) *response->add_jobs() = std::move(status);
  return grpc::Status::OK;
}

}  // namespace medgemma::trainer
