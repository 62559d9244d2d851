#include "server/oip_model.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <mutex>

#include "server/oip_tensors.h"

namespace medgemma::server {
namespace {
constexpr char kPlatform[] = "medgemma";

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// The N answers of one ModelInfer, gathered as they arrive in any order.
struct Gather {
  std::mutex mu;
  std::vector<v1::ClassifyResponse> responses;
  absl::Status first_error;
  size_t remaining;
  explicit Gather(size_t n) : responses(n), remaining(n) {}
};
}  // namespace

absl::Status OipModel::CheckServed(const std::string& name, const std::string& version) const {
  if (name != o_.name) {
    return absl::NotFoundError(absl::StrCat("model \"", name, "\" is not served here; this server serves \"", o_.name, "\""));
  }
  if (version.empty()) return absl::OkStatus();
  absl::StatusOr<AdapterHandle> adapter = registry_->Resolve(version);
  if (!adapter.ok()) {
    return absl::NotFoundError(absl::StrCat("model \"", name, "\" has no version \"", version,
                                            "\"; versions are the loaded adapters' names"));
  }
  return absl::OkStatus();
}

absl::StatusOr<inference::ModelMetadataResponse> OipModel::Metadata(const std::string& name,
                                                                    const std::string& version) const {
  if (absl::Status served = CheckServed(name, version); !served.ok()) return served;
  inference::ModelMetadataResponse r;
  r.set_name(o_.name);
  for (const auto& adapter : registry_->List()) r.add_versions(adapter->name);
  r.set_platform(kPlatform);
  const auto add = [](auto* list, const char* tensor, const char* datatype, std::vector<int64_t> shape) {
    auto* t = list->Add();
    t->set_name(tensor);
    t->set_datatype(datatype);
    for (int64_t d : shape) t->add_shape(d);
  };
  // One datatype per tensor in metadata: BYTES is listed; UINT8 [N,H,W,3] is accepted as well.
  // [-1,1], Triton's batch dimension plus Config's dims (perf_analyzer builds its requests from
  // these); [N] is accepted too.
  add(r.mutable_inputs(), kOipImageInput, "BYTES", {-1, 1});
  add(r.mutable_outputs(), kOipProbabilitiesOutput, "FP32", {-1, o_.num_labels});
  add(r.mutable_outputs(), kOipLabelOutput, "INT32", {-1});
  add(r.mutable_outputs(), kOipLabelNameOutput, "BYTES", {-1});
  return r;
}

absl::StatusOr<inference::ModelConfigResponse> OipModel::Config(const std::string& name,
                                                                const std::string& version) const {
  if (absl::Status served = CheckServed(name, version); !served.ok()) return served;
  inference::ModelConfigResponse r;
  inference::ModelConfig* c = r.mutable_config();
  c->set_name(o_.name);
  c->set_platform(kPlatform);
  c->set_max_batch_size(o_.max_batch_size);
  // Triton's dims leave out the batch dimension.
  auto* input = c->add_input();
  input->set_name(kOipImageInput);
  input->set_data_type(inference::TYPE_STRING);
  input->add_dims(1);
  const auto add_output = [c](const char* tensor, inference::DataType type, int64_t dim) {
    auto* output = c->add_output();
    output->set_name(tensor);
    output->set_data_type(type);
    output->add_dims(dim);
  };
  add_output(kOipProbabilitiesOutput, inference::TYPE_FP32, o_.num_labels);
  add_output(kOipLabelOutput, inference::TYPE_INT32, 1);
  add_output(kOipLabelNameOutput, inference::TYPE_STRING, 1);
  auto* batching = c->mutable_dynamic_batching();
  for (int s : o_.preferred_batch_sizes) batching->add_preferred_batch_size(s);
  batching->set_max_queue_delay_microseconds(static_cast<uint64_t>(o_.max_queue_delay_us));
  return r;
}

absl::StatusOr<inference::ModelStatisticsResponse> OipModel::Statistics(const std::string& name) const {
  if (!name.empty()) {
    if (absl::Status served = CheckServed(name, ""); !served.ok()) return served;
  }
  inference::ModelStatisticsResponse r;
  inference::ModelStatistics* s = r.add_model_stats();
  s->set_name(o_.name);
  // All versions (adapters) together, under a version that parses as an integer: Triton's tools
  // read statistics versions as numbers (perf_analyzer aborts on an adapter's name).
  s->set_version("0");
  s->set_last_inference(stats_.last_inference_ms.load());
  s->set_inference_count(stats_.success.count.load());
  s->set_execution_count(stats_.success.count.load());
  const auto fill = [](const Counter& from, inference::StatisticDuration* to) {
    to->set_count(from.count.load());
    to->set_ns(from.ns.load());
  };
  inference::InferStatistics* infer = s->mutable_inference_stats();
  fill(stats_.success, infer->mutable_success());
  fill(stats_.fail, infer->mutable_fail());
  fill(stats_.queue, infer->mutable_queue());
  fill(stats_.compute_input, infer->mutable_compute_input());
  fill(stats_.compute_infer, infer->mutable_compute_infer());
  fill(stats_.compute_output, infer->mutable_compute_output());
  return r;
}

void OipModel::Record(const std::vector<v1::ClassifyResponse>& responses, bool ok, size_t images, double seconds) {
  stats_.last_inference_ms.store(NowMs());
  if (!ok) return stats_.fail.Add(images, seconds);
  stats_.success.Add(images, seconds);
  for (const auto& r : responses) {
    stats_.queue.Add(1, r.timing().queue_ms() / 1e3);
    stats_.compute_input.Add(1, r.timing().preprocess_ms() / 1e3);
    stats_.compute_infer.Add(1, r.timing().inference_ms() / 1e3);
    // The rest of the request's time (waiting for a preprocessing thread, building the answer).
    const double rest_ms =
        r.timing().total_ms() - r.timing().queue_ms() - r.timing().preprocess_ms() - r.timing().inference_ms();
    stats_.compute_output.Add(1, std::max(0.0, rest_ms) / 1e3);
  }
}

void OipModel::Infer(const inference::ModelInferRequest& request, AuditedCall call, Clock::time_point deadline,
                     std::function<bool()> cancelled, InferDone done) {
  call.request_id = request.id();
  call.adapter = request.model_version();
  done = [this, call, done = std::move(done)](absl::StatusOr<inference::ModelInferResponse> response) {
    if (!response.ok()) AuditClassification(*audit_, call, response.status(), {});
    done(std::move(response));
  };
  if (absl::Status served = CheckServed(request.model_name(), request.model_version()); !served.ok()) {
    return done(served);
  }
  absl::StatusOr<std::vector<v1::Image>> images = ReadOipImages(request, o_.max_batch_size);
  if (!images.ok()) return done(images.status());
  const auto start = Clock::now();
  const size_t n = images->size();
  auto gather = std::make_shared<Gather>(n);
  // What the response needs of the request, copied: the caller's may be gone by then (HTTP).
  inference::ModelInferRequest shell;
  shell.set_id(request.id());
  *shell.mutable_outputs() = request.outputs();
  auto finish = [this, gather, n, start, call, request_shell = std::move(shell), done = std::move(done)]() {
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    Record(gather->responses, gather->first_error.ok(), n, seconds);
    if (!gather->first_error.ok()) return done(gather->first_error);
    AuditClassification(*audit_, call, absl::OkStatus(), gather->responses);
    inference::ModelInferResponse response;
    response.set_model_name(o_.name);
    response.set_model_version(gather->responses.front().adapter());
    response.set_id(request_shell.id());
    WriteOipOutputs(request_shell, gather->responses, o_.num_labels, &response);
    done(std::move(response));
  };
  auto shared_finish = std::make_shared<decltype(finish)>(std::move(finish));
  for (size_t i = 0; i < n; ++i) {
    v1::ClassifyRequest one;
    one.set_request_id(n == 1 ? request.id() : absl::StrCat(request.id(), "#", i));
    *one.mutable_image() = std::move((*images)[i]);
    one.set_adapter(request.model_version());
    const int64_t bytes = pipeline_->RequestBytes(one);
    pipeline_->Submit(std::move(one), bytes, deadline, cancelled,
                      [gather, i, shared_finish](absl::StatusOr<v1::ClassifyResponse> result) {
                        bool last;
                        {
                          std::lock_guard<std::mutex> lock(gather->mu);
                          if (result.ok()) {
                            gather->responses[i] = *std::move(result);
                          } else if (gather->first_error.ok()) {
                            gather->first_error = result.status();
                          }
                          last = --gather->remaining == 0;
                        }
                        if (last) (*shared_finish)();
                      });
  }
}

}  // namespace medgemma::server
