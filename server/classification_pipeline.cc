#include "server/classification_pipeline.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

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

// The image's pixels, and for DICOM input the instance they came from.
struct DecodedImage {
  RgbImage rgb;
  std::optional<v1::DicomInstance> dicom;
};

absl::StatusOr<DecodedImage> DecodeRequestImage(const v1::Image& image, const ImageLimits& limits) {
  if (image.frame() != 0 && image.source_case() != v1::Image::kDicom) {
    return absl::InvalidArgumentError("image.frame is for DICOM input (image.dicom) only");
  }
  absl::StatusOr<RgbImage> rgb;
  switch (image.source_case()) {
    case v1::Image::kEncoded:
      rgb = DecodeImage(image.encoded(), limits);
      break;
    case v1::Image::kRaw:
      rgb = RgbImageFromRaw(image.raw().width(), image.raw().height(), image.raw().rgb(), limits);
      break;
    case v1::Image::kDicom: {
      absl::StatusOr<DicomFrame> frame = DecodeDicom(image.dicom(), image.frame(), limits);
      if (!frame.ok()) return frame.status();
      v1::DicomInstance instance;
      instance.set_study_instance_uid(frame->study_instance_uid);
      instance.set_series_instance_uid(frame->series_instance_uid);
      instance.set_sop_instance_uid(frame->sop_instance_uid);
      instance.set_frame(frame->frame);
      instance.set_frames(frame->frames);
      return DecodedImage{std::move(frame->image), std::move(instance)};
    }
    default:
      return absl::InvalidArgumentError("request has no image (set image.encoded, image.raw or image.dicom)");
  }
  if (!rgb.ok()) return rgb.status();
  return DecodedImage{*std::move(rgb), std::nullopt};
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
    // The file, the dataset DCMTK makes of it (about its size again, pixels decompressed) and one
    // frame's RGB.
    absl::StatusOr<DicomHeader> header = ReadDicomHeader(image.dicom());
    const int64_t frame = header.ok() ? DecodedRgbBytes(header->columns, header->rows, p_.limits.max_pixels) : 0;
    return 2 * static_cast<int64_t>(image.dicom().size()) + 2 * frame + tensor_bytes;
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
  if (!inflight_.TryAcquire(bytes)) {
    return done(absl::ResourceExhaustedError(absl::StrCat("requests in flight already hold ", inflight_.in_use(),
                                                          " bytes of images (limit ", inflight_.limit(),
                                                          "); this one needs ", bytes, "; retry shortly")));
  }
  done = [this, bytes, done = std::move(done)](absl::StatusOr<v1::ClassifyResponse> response) {
    inflight_.Release(bytes);
    done(std::move(response));
  };
  absl::StatusOr<AdapterHandle> adapter = p_.registry->Resolve(request.adapter());
  if (!adapter.ok()) return done(adapter.status());
  p_.pool->Submit([this, request = std::move(request), adapter = *adapter, deadline, cancelled = std::move(cancelled),
                   admitted, done = std::move(done)]() mutable {
    Preprocess(std::move(request), std::move(adapter), deadline, std::move(cancelled), admitted, std::move(done));
  });
}

void ClassificationPipeline::Preprocess(v1::ClassifyRequest request, AdapterHandle adapter, Clock::time_point deadline,
                                        std::function<bool()> cancelled, Clock::time_point admitted, Done done) {
  if (Clock::now() >= deadline) return done(absl::DeadlineExceededError("deadline passed before preprocessing"));
  if (cancelled && cancelled()) return done(absl::CancelledError("cancelled by the caller"));
  const auto start = Clock::now();
  absl::StatusOr<DecodedImage> image = DecodeRequestImage(request.image(), p_.limits);
  if (!image.ok()) return done(image.status());
  absl::StatusOr<torch::Tensor> pixels = ResizeImage(image->rgb, p_.preprocess);
  if (!pixels.ok()) return done(pixels.status());
  const double preprocess_seconds = Seconds(start, Clock::now());
  p_.metrics->ObservePreprocess(preprocess_seconds);

  // `done` must stay callable here if the scheduler refuses the task it was moved into.
  auto shared_done = std::make_shared<Done>(std::move(done));
  ClassifyTask task;
  task.pixels = *std::move(pixels);
  task.adapter = std::move(adapter);
  task.done = [this, id = request.request_id(), preprocess_seconds, admitted, shared_done,
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
