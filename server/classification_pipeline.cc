#include "server/classification_pipeline.h"

#include <absl/strings/str_cat.h>
#include <absl/synchronization/mutex.h>
#include <torch/torch.h>

#include <algorithm>
#include <optional>

#include "base/log.h"
#include "base/status_macros.h"
#include "engine/image_decoder.h"
#include "server/dicom_decoder.h"

namespace medgemma::server {
namespace {
double Seconds(Clock::time_point from, Clock::time_point to) { return std::chrono::duration<double>(to - from).count(); }

// RGB bytes of a decoded width x height image, or 0 for sizes the decoder refuses at once (past the
// pixel limit: such a request holds only its encoded bytes), without overflowing on any header.
int64_t DecodedRgbBytes(int64_t width, int64_t height, int64_t max_pixels) {
  if (width <= 0 || height <= 0 || width > max_pixels || height > max_pixels || width * height > max_pixels) return 0;
  return width * height * 3;
}

// Frames of one multi-frame file decoding or waiting for the model at once: enough to fill batches
// from one file, few enough that a whole-slide file of thousands of tiles holds little.
constexpr int kFramesInFlight = 16;

v1::DicomInstance InstanceOf(const DicomFile& file, int frame) {
  v1::DicomInstance instance;
  instance.set_study_instance_uid(file.study_instance_uid());
  instance.set_series_instance_uid(file.series_instance_uid());
  instance.set_sop_instance_uid(file.sop_instance_uid());
  instance.set_frame(frame);
  instance.set_frames(file.frames());
  return instance;
}

std::string CodeName(const absl::Status& status) {
  std::string name = absl::StatusCodeToString(status.code());
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// A failure the server caused is an error line with the request's id; every request is a debug
// line (request logging, off by default).
void LogOutcome(const std::string& request_id, const std::string& adapter, const absl::Status& status, double seconds) {
  const bool server_fault = status.code() == absl::StatusCode::kInternal ||
                            status.code() == absl::StatusCode::kUnknown || status.code() == absl::StatusCode::kDataLoss;
  if (!server_fault && !LogEnabled(LogLevel::kDebug)) return;
  Log(server_fault ? LogLevel::kError : LogLevel::kDebug, "classify",
      {{"request_id", request_id}, {"adapter", adapter}, {"code", CodeName(status)}, {"error", status.message()},
       {"ms", seconds * 1e3}});
}
}  // namespace

// The frames of one file: launched kFramesInFlight at a time, the next as each answers.
struct ClassificationPipeline::Fanout {
  std::shared_ptr<DicomFile> file;
  std::string request_id, requested_adapter;
  AdapterHandle adapter;
  Clock::time_point deadline;
  std::function<bool()> cancelled;
  FrameDone each;
  std::function<void()> finished;
  absl::Mutex mu;
  int next ABSL_GUARDED_BY(mu) = 1;
  int outstanding ABSL_GUARDED_BY(mu) = 0;
};

absl::Status ClassificationPipeline::Exhausted(int64_t bytes) const {
  return absl::ResourceExhaustedError(absl::StrCat("requests in flight already hold ", inflight_.in_use(),
                                                   " bytes of images (limit ", inflight_.limit(), "); this one needs ",
                                                   bytes, "; retry shortly"));
}

absl::StatusOr<ClassificationPipeline::DecodedImage> ClassificationPipeline::DecodeFrame(DicomFile& file, int frame) {
  const int64_t held = file.FrameBytes();
  if (!inflight_.TryAcquire(held)) return Exhausted(held);
  absl::StatusOr<DicomFrame> decoded = file.Frame(frame);
  if (!decoded.ok()) {
    inflight_.Release(held);
    return decoded.status();
  }
  return DecodedImage{std::move(decoded->image), InstanceOf(file, frame), held};
}

absl::StatusOr<ClassificationPipeline::DecodedImage> ClassificationPipeline::DecodeRequestImage(const v1::Image& image) {
  if (image.frame() != 0 && image.source_case() != v1::Image::kDicom) {
    return absl::InvalidArgumentError("image.frame is for DICOM input (image.dicom) only");
  }
  absl::StatusOr<RgbImage> rgb;
  switch (image.source_case()) {
    case v1::Image::kEncoded:
      rgb = DecodeImage(image.encoded(), p_.limits);
      break;
    case v1::Image::kRaw:
      rgb = RgbImageFromRaw(image.raw().width(), image.raw().height(), image.raw().rgb(), p_.limits);
      break;
    case v1::Image::kDicom: {
      absl::StatusOr<std::unique_ptr<DicomFile>> file = DicomFile::Parse(image.dicom(), p_.limits);
      if (!file.ok()) return file.status();
      absl::StatusOr<int> frame = FrameToDecode(**file, image.frame());
      if (!frame.ok()) return frame.status();
      return DecodeFrame(**file, *frame);
    }
    default:
      return absl::InvalidArgumentError("request has no image (set image.encoded, image.raw or image.dicom)");
  }
  if (!rgb.ok()) return rgb.status();
  return DecodedImage{*std::move(rgb), std::nullopt, 0};
}

std::string ClassificationPipeline::AdapterLabel(const absl::StatusOr<v1::ClassifyResponse>& response,
                                                 const std::string& requested) const {
  if (response.ok()) return response->adapter();
  if (requested.empty() || p_.registry->Resolve(requested).ok()) return requested;
  return ServerMetrics::kUnknownAdapter;
}

ClassificationPipeline::Done ClassificationPipeline::Counted(const std::string& request_id, const std::string& adapter,
                                                             Clock::time_point admitted, Done done) const {
  return [this, request_id, adapter, admitted, done = std::move(done)](absl::StatusOr<v1::ClassifyResponse> response) {
    const std::string served_by = response.ok() ? response->adapter() : adapter;
    const double seconds = Seconds(admitted, Clock::now());
    p_.metrics->CountRequest(CodeName(response.status()), AdapterLabel(response, adapter));
    p_.metrics->ObserveLatency(seconds);
    LogOutcome(request_id, served_by, response.status(), seconds);
    done(std::move(response));
  };
}

int64_t ClassificationPipeline::RequestBytes(const v1::ClassifyRequest& request) const {
  const int64_t tensor_bytes = 3 * p_.preprocess.size * p_.preprocess.size;  // uint8, normalized on the device
  const v1::Image& image = request.image();
  if (image.source_case() == v1::Image::kRaw) return static_cast<int64_t>(image.raw().rgb().size()) + tensor_bytes;
  if (image.source_case() == v1::Image::kDicom) {
    const int64_t tensors = image.frame() == 0 ? kFramesInFlight : 1;
    return 2 * static_cast<int64_t>(image.dicom().size()) + tensors * tensor_bytes;
  }
  const int64_t encoded = static_cast<int64_t>(image.encoded().size());
  absl::StatusOr<ImageHeader> header = ReadImageHeader(image.encoded());
  // A header that does not parse fails decoding at once: it holds only its bytes.
  const int64_t decoded = header.ok() ? DecodedRgbBytes(header->width, header->height, p_.limits.max_pixels) : 0;
  return encoded + decoded + tensor_bytes;
}

void ClassificationPipeline::Submit(v1::ClassifyRequest request, int64_t bytes, Clock::time_point deadline,
                                    std::function<bool()> cancelled, Done done) {
  const Clock::time_point admitted = Clock::now();
  done = Counted(request.request_id(), request.adapter(), admitted, std::move(done));
  if (!inflight_.TryAcquire(bytes)) return done(Exhausted(bytes));
  done = [this, bytes, done = std::move(done)](absl::StatusOr<v1::ClassifyResponse> response) {
    inflight_.Release(bytes);
    done(std::move(response));
  };
  absl::StatusOr<AdapterHandle> adapter = p_.registry->Resolve(request.adapter());
  if (!adapter.ok()) return done(adapter.status());
  p_.pool->Submit([this, request = std::move(request), adapter = *adapter, deadline, cancelled = std::move(cancelled),
                   admitted, done = std::move(done)]() mutable {
    // Preprocess calls the decoder before it returns: `request` outlives it.
    Preprocess(request.request_id(), [this, &request] { return DecodeRequestImage(request.image()); }, std::move(adapter),
               deadline, std::move(cancelled), admitted, std::move(done));
  });
}

void ClassificationPipeline::SubmitAll(v1::ClassifyRequest request, int64_t bytes, Clock::time_point deadline,
                                       std::function<bool()> cancelled, FrameDone each, std::function<void()> finished) {
  if (request.image().source_case() != v1::Image::kDicom || request.image().frame() != 0) {
    return Submit(std::move(request), bytes, deadline, std::move(cancelled),
                  [each = std::move(each), finished = std::move(finished)](absl::StatusOr<v1::ClassifyResponse> r) {
                    const v1::DicomInstance frame = r.ok() ? r->dicom() : v1::DicomInstance();
                    each(std::move(r), frame);
                    finished();
                  });
  }
  const Clock::time_point admitted = Clock::now();
  // A failure before the frames are known is one answer, counted as one request.
  Done counted = Counted(request.request_id(), request.adapter(), admitted,
                         [each](absl::StatusOr<v1::ClassifyResponse> r) { each(std::move(r), v1::DicomInstance()); });
  if (!inflight_.TryAcquire(bytes)) {
    counted(Exhausted(bytes));
    return finished();
  }
  finished = [this, bytes, finished = std::move(finished)] {
    inflight_.Release(bytes);
    finished();
  };
  absl::StatusOr<AdapterHandle> adapter = p_.registry->Resolve(request.adapter());
  if (!adapter.ok()) {
    counted(adapter.status());
    return finished();
  }
  p_.pool->Submit([this, request = std::move(request), adapter = *adapter, deadline, cancelled = std::move(cancelled),
                   counted = std::move(counted), each = std::move(each), finished = std::move(finished)]() mutable {
    ExpandFrames(std::move(request), std::move(adapter), deadline, std::move(cancelled), std::move(counted),
                 std::move(each), std::move(finished));
  });
}

void ClassificationPipeline::ExpandFrames(v1::ClassifyRequest request, AdapterHandle adapter, Clock::time_point deadline,
                                          std::function<bool()> cancelled, Done counted, FrameDone each,
                                          std::function<void()> finished) {
  absl::StatusOr<std::unique_ptr<DicomFile>> file =
      Clock::now() >= deadline    ? absl::DeadlineExceededError("deadline passed before preprocessing")
      : cancelled && cancelled() ? absl::CancelledError("cancelled by the caller")
                                  : DicomFile::Parse(request.image().dicom(), p_.limits);
  if (!file.ok()) {
    counted(file.status());
    return finished();
  }
  auto fanout = std::make_shared<Fanout>();
  fanout->file = std::move(*file);
  fanout->request_id = request.request_id();
  fanout->requested_adapter = request.adapter();
  fanout->adapter = std::move(adapter);
  fanout->deadline = deadline;
  fanout->cancelled = std::move(cancelled);
  fanout->each = std::move(each);
  fanout->finished = std::move(finished);
  request.Clear();  // parsed: the file's bytes are not needed any more
  const int first = std::min(kFramesInFlight, fanout->file->frames());
  {
    absl::MutexLock lock(&fanout->mu);
    fanout->next = first + 1;
    fanout->outstanding = first;
  }
  for (int frame = 1; frame <= first; ++frame) LaunchFrame(fanout, frame);
}

void ClassificationPipeline::LaunchFrame(const std::shared_ptr<Fanout>& fanout, int frame) {
  const Clock::time_point admitted = Clock::now();
  Done done = Counted(fanout->request_id, fanout->requested_adapter, admitted,
                      [this, fanout, frame](absl::StatusOr<v1::ClassifyResponse> r) {
                        fanout->each(std::move(r), InstanceOf(*fanout->file, frame));
                        int launch = 0;
                        bool last;
                        {
                          absl::MutexLock lock(&fanout->mu);
                          --fanout->outstanding;
                          if (fanout->next <= fanout->file->frames()) {
                            launch = fanout->next++;
                            ++fanout->outstanding;
                          }
                          last = fanout->outstanding == 0;
                        }
                        if (launch > 0) LaunchFrame(fanout, launch);
                        if (last) fanout->finished();
                      });
  p_.pool->Submit([this, fanout, frame, admitted, done = std::move(done)]() mutable {
    Preprocess(fanout->request_id, [this, &fanout, frame] { return DecodeFrame(*fanout->file, frame); }, fanout->adapter,
               fanout->deadline, fanout->cancelled, admitted, std::move(done));
  });
}

void ClassificationPipeline::Preprocess(const std::string& request_id, Decode decode, AdapterHandle adapter,
                                        Clock::time_point deadline, std::function<bool()> cancelled,
                                        Clock::time_point admitted, Done done) {
  if (Clock::now() >= deadline) return done(absl::DeadlineExceededError("deadline passed before preprocessing"));
  if (cancelled && cancelled()) return done(absl::CancelledError("cancelled by the caller"));
  const auto start = Clock::now();
  absl::StatusOr<DecodedImage> image = decode();
  if (!image.ok()) return done(image.status());
  absl::StatusOr<torch::Tensor> pixels = ResizeImage(image->rgb, p_.preprocess);
  image->rgb = RgbImage();
  inflight_.Release(image->held);  // the decoded pixels are gone; the tensor is in the request's bytes
  if (!pixels.ok()) return done(pixels.status());
  const double preprocess_seconds = Seconds(start, Clock::now());
  p_.metrics->ObservePreprocess(preprocess_seconds);

  // `done` must stay callable here if the scheduler refuses the task it was moved into.
  auto shared_done = std::make_shared<Done>(std::move(done));
  ClassifyTask task;
  task.pixels = *std::move(pixels);
  task.adapter = std::move(adapter);
  task.done = [this, id = request_id, preprocess_seconds, admitted, shared_done,
               dicom = std::move(image->dicom)](absl::StatusOr<BatchOutcome> outcome) {
    if (!outcome.ok()) return (*shared_done)(outcome.status());
    v1::ClassifyResponse response = BuildResponse(id, *outcome, preprocess_seconds, admitted);
    if (dicom) *response.mutable_dicom() = *dicom;
    (*shared_done)(std::move(response));
  };
  Admission admission{task.group(), deadline, std::move(cancelled)};
  absl::Status submitted = p_.scheduler->Submit(std::move(task), std::move(admission));
  if (!submitted.ok()) (*shared_done)(submitted);
}

v1::ClassifyResponse ClassificationPipeline::BuildResponse(const std::string& request_id, const BatchOutcome& outcome,
                                                           double preprocess_seconds, Clock::time_point admitted) const {
  v1::ClassifyResponse r;
  r.set_request_id(request_id);
  const auto probs = outcome.probabilities.contiguous();
  const float* p = probs.data_ptr<float>();
  for (size_t i = 0; i < p_.task.labels.size(); ++i) {
    auto* c = r.add_probabilities();
    c->set_label(static_cast<int32_t>(i));
    c->set_name(p_.task.labels[i].name);
    c->set_probability(p[i]);
  }
  const Task::Answer answer = p_.task.Summarize(p);
  r.set_label(answer.label);
  r.set_label_name(p_.task.labels[answer.label].name);
  r.set_confidence(p[answer.label]);
  if (answer.group >= 0) {
    r.set_group(p_.task.groups[answer.group]);
    r.set_group_probability(static_cast<float>(answer.group_probability));
  }
  r.set_model_id(p_.model_id);
  if (outcome.adapter) {
    r.set_adapter(outcome.adapter->name);
    r.set_adapter_version(outcome.adapter->adapter->version());
  }
  r.set_batch_size(outcome.batch_size);
  auto* t = r.mutable_timing();
  t->set_preprocess_ms(static_cast<float>(preprocess_seconds * 1e3));
  t->set_queue_ms(static_cast<float>(outcome.queue_seconds * 1e3));
  t->set_inference_ms(static_cast<float>(outcome.inference_seconds * 1e3));
  t->set_total_ms(static_cast<float>(Seconds(admitted, Clock::now()) * 1e3));
  return r;
}

}  // namespace medgemma::server
