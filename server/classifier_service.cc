#include "server/classifier_service.h"

#include <atomic>
#include <deque>
#include <mutex>

#include "rpc/grpc_status.h"
#include "server/classification_audit.h"

namespace medgemma::server {

Clock::time_point DeadlineOf(const grpc::CallbackServerContext& context) {
  const auto deadline = context.deadline();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return Clock::time_point::max();
  }
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(deadline - std::chrono::system_clock::now());
}

void FillAdapterInfo(const ServedAdapter& adapter, bool is_default, v1::AdapterInfo* info) {
  info->set_name(adapter.name);
  info->set_version(adapter.adapter->version());
  info->set_path(adapter.path);
  info->set_rank(static_cast<int32_t>(adapter.adapter->config().r));
  info->set_alpha(static_cast<float>(adapter.adapter->config().alpha));
  for (const auto& t : adapter.adapter->config().target_modules) info->add_target_modules(t);
  info->set_loaded_at(adapter.loaded_at);
  info->set_is_default(is_default);
}

ClassifierService::ClassifierService(ClassificationPipeline* pipeline, const rpc::TokenAuthorizer* auth,
                                     const AdapterRegistry* registry, v1::ModelInfo model_info,
                                     int64_t max_stream_inflight_bytes, AuditLog* audit)
    : pipeline_(pipeline),
      auth_(auth),
      registry_(registry),
      model_info_(std::move(model_info)),
      max_stream_inflight_bytes_(max_stream_inflight_bytes),
      audit_(audit) {}

grpc::ServerUnaryReactor* ClassifierService::Classify(grpc::CallbackServerContext* context,
                                                      const v1::ClassifyRequest* request, v1::ClassifyResponse* response) {
  auto* reactor = context->DefaultReactor();
  AuditedCall call{"medgemma.v1.Classify", request->request_id(), "", request->adapter()};
  const absl::StatusOr<rpc::Caller> caller = auth_->Authorize(*context, rpc::Role::kClassify);
  if (!caller.ok()) {
    AuditClassification(*audit_, call, caller.status(), {});
    reactor->Finish(rpc::ToGrpcStatus(caller.status()));
    return reactor;
  }
  call.caller = caller->name;
  pipeline_->Submit(*request, pipeline_->RequestBytes(*request), DeadlineOf(*context),
                    [context] { return context->IsCancelled(); },
                    [reactor, response, audit = audit_, call](absl::StatusOr<v1::ClassifyResponse> result) {
                      if (result.ok()) *response = *std::move(result);
                      AuditClassification(*audit, call, result.status(),
                                          result.ok() ? std::vector<v1::ClassifyResponse>{*response}
                                                      : std::vector<v1::ClassifyResponse>{});
                      reactor->Finish(rpc::ToGrpcStatus(result.status()));
                    });
  return reactor;
}

namespace {
// Reads requests as they come, runs each through the pipeline concurrently, writes responses in
// completion order: one per request, or one per frame for a multi-frame DICOM file without
// image.frame (each naming its frame in `dicom`, failed frames too). Reading pauses while the
// stream's requests in flight hold its byte limit and resumes as answers free them: a client
// streaming faster than the model waits in gRPC's flow control instead of filling the server's
// memory. Per-request failures travel in the response's error field so one bad image does not end
// a study's stream. The reactor deletes itself once gRPC is done with it and every request
// it started has answered.
class StreamReactor final : public grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResponse> {
 public:
  StreamReactor(grpc::CallbackServerContext* context, ClassificationPipeline* pipeline, int64_t max_inflight_bytes,
                AuditLog* audit, std::string caller)
      : context_(context),
        pipeline_(pipeline),
        max_inflight_bytes_(max_inflight_bytes),
        audit_(audit),
        caller_(std::move(caller)) {
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard<std::mutex> lock(mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    // Moved out before a read can be restarted (here or by an answer) into the same buffer.
    v1::ClassifyRequest request = std::move(incoming_);
    incoming_.Clear();
    const std::string id = request.request_id();
    const int64_t bytes = pipeline_->RequestBytes(request);
    AuditedCall call{"medgemma.v1.ClassifyStream", id, caller_, request.adapter()};
    bool read_more;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++pending_;
      inflight_bytes_ += bytes;
      read_more = inflight_bytes_ < max_inflight_bytes_;
      read_paused_ = !read_more;
    }
    refs_.fetch_add(1);
    if (read_more) StartRead(&incoming_);
    pipeline_->SubmitAll(
        std::move(request), bytes, DeadlineOf(*context_), [this] { return context_->IsCancelled(); },
        [this, id, call](absl::StatusOr<v1::ClassifyResponse> result, const v1::DicomInstance& frame) {
          AuditClassification(*audit_, call, result.status(),
                              result.ok() ? std::vector<v1::ClassifyResponse>{*result} : std::vector<v1::ClassifyResponse>{});
          v1::ClassifyResponse response;
          if (result.ok()) {
            response = *std::move(result);
          } else {
            response.set_request_id(id);
            if (frame.frame() > 0) *response.mutable_dicom() = frame;  // which frame failed
            response.mutable_error()->set_code(static_cast<int32_t>(result.status().code()));
            response.mutable_error()->set_message(std::string(result.status().message()));
          }
          std::lock_guard<std::mutex> lock(mu_);
          outgoing_.push_back(std::move(response));
          if (!writing_) WriteNextLocked();
        },
        [this, bytes] {
          {
            std::lock_guard<std::mutex> lock(mu_);
            --pending_;
            inflight_bytes_ -= bytes;
            if (read_paused_ && inflight_bytes_ < max_inflight_bytes_) {
              read_paused_ = false;
              StartRead(&incoming_);
            }
            MaybeFinishLocked();
          }
          Unref();
        });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    outgoing_.pop_front();
    writing_ = false;
    if (!ok) {
      broken_ = true;
      outgoing_.clear();
    }
    if (!outgoing_.empty()) WriteNextLocked();
    MaybeFinishLocked();
  }

  void OnDone() override { Unref(); }

 private:
  void WriteNextLocked() {
    writing_ = true;
    StartWrite(&outgoing_.front());
  }
  void MaybeFinishLocked() {
    if (reads_done_ && pending_ == 0 && !writing_ && outgoing_.empty() && !finished_) {
      finished_ = true;
      Finish(broken_ ? grpc::Status(grpc::StatusCode::CANCELLED, "stream broken") : grpc::Status::OK);
    }
  }
  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  grpc::CallbackServerContext* context_;
  ClassificationPipeline* pipeline_;
  v1::ClassifyRequest incoming_;
  std::mutex mu_;
  std::deque<v1::ClassifyResponse> outgoing_;
  const int64_t max_inflight_bytes_;
  AuditLog* const audit_;
  const std::string caller_;
  int pending_ = 0;
  int64_t inflight_bytes_ = 0;
  bool read_paused_ = false;  // no read outstanding until answers free bytes
  bool reads_done_ = false, writing_ = false, finished_ = false, broken_ = false;
  std::atomic<int> refs_{1};  // gRPC's (dropped in OnDone) plus one per request in flight
};

class RefusedStream final : public grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResponse> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};
}  // namespace

grpc::ServerBidiReactor<v1::ClassifyRequest, v1::ClassifyResponse>* ClassifierService::ClassifyStream(
    grpc::CallbackServerContext* context) {
  const absl::StatusOr<rpc::Caller> caller = auth_->Authorize(*context, rpc::Role::kClassify);
  if (!caller.ok()) {
    AuditClassification(*audit_, AuditedCall{"medgemma.v1.ClassifyStream"}, caller.status(), {});
    return new RefusedStream(rpc::ToGrpcStatus(caller.status()));
  }
  return new StreamReactor(context, pipeline_, max_stream_inflight_bytes_, audit_, caller->name);
}

grpc::ServerUnaryReactor* ClassifierService::GetModelInfo(grpc::CallbackServerContext* context,
                                                          const v1::GetModelInfoRequest*, v1::ModelInfo* response) {
  auto* reactor = context->DefaultReactor();
  const grpc::Status allowed = auth_->Check(*context, rpc::Role::kClassify);
  if (allowed.ok()) {
    *response = model_info_;
    const std::string default_name = registry_->default_name();
    response->set_default_adapter(default_name);
    // Where adapters live on the server's disk is for operators (the admin role), not for clients.
    const bool show_paths = auth_->Check(*context, rpc::Role::kAdmin).ok();
    for (const auto& adapter : registry_->List()) {
      v1::AdapterInfo* info = response->add_adapters();
      FillAdapterInfo(*adapter, adapter->name == default_name, info);
      if (!show_paths) info->clear_path();
    }
  }
  reactor->Finish(allowed);
  return reactor;
}

}  // namespace medgemma::server
