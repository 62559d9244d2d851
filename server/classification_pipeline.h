// One Classify request from admission to response: resolve the adapter (once, so the version is
// pinned), decode and preprocess on the CPU pool, submit to the batch scheduler, and turn the class
// probabilities the classifier executor hands back into a ClassifyResponse. Shared by the unary and
// streaming RPCs, the Open Inference Protocol and HTTP. A multi-frame DICOM file sent without a
// frame fans out (SubmitAll) into one classification per frame, a few frames in flight at a time.
#pragma once

#include <absl/status/statusor.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/image_decoder.h"
#include "engine/image_preprocessor.h"
#include "engine/task.h"
#include "medgemma/v1/classifier.pb.h"
#include "server/adapter_registry.h"
#include "server/byte_budget.h"
#include "server/classifier_executor.h"
#include "server/dicom_decoder.h"
#include "server/server_metrics.h"
#include "server/thread_pool.h"

namespace medgemma::server {

// The server's request clock: the batch scheduler's, so deadlines reach it unconverted.
using Clock = BatchClock;

class ClassificationPipeline {
 public:
  struct Parts {
    std::string model_id;
    Task task;
    PreprocessConfig preprocess;
    ImageLimits limits;
    AdapterRegistry* registry;
    ClassifyScheduler* scheduler;
    ThreadPool* pool;
    ServerMetrics* metrics;
    int64_t max_inflight_bytes;  // every request in flight together (RequestBytes each)
  };
  explicit ClassificationPipeline(Parts parts) : p_(std::move(parts)), inflight_(p_.max_inflight_bytes) {}

  using Done = std::function<void(absl::StatusOr<v1::ClassifyResponse>)>;
  // `done` runs exactly once, on whichever thread finishes the request. `bytes` is the request's
  // RequestBytes (computed by the caller, who may need it too); RESOURCE_EXHAUSTED when the
  // requests in flight already hold max_inflight_bytes.
  void Submit(v1::ClassifyRequest request, int64_t bytes, Clock::time_point deadline, std::function<bool()> cancelled,
              Done done);

  // One answer per image: `each` once for most requests, once per frame (in completion order) for a
  // multi-frame DICOM file without image.frame. `frame` is the DICOM instance and frame an answer
  // is about (empty for other input, and for a file that failed before its frames were known), so
  // that a failed frame can be named. `finished` runs once, after the last `each`.
  using FrameDone = std::function<void(absl::StatusOr<v1::ClassifyResponse> result, const v1::DicomInstance& frame)>;
  void SubmitAll(v1::ClassifyRequest request, int64_t bytes, Clock::time_point deadline,
                 std::function<bool()> cancelled, FrameDone each, std::function<void()> finished);

  // What a request holds at its peak while in flight: its image bytes, the decoded RGB pixels (from
  // the image header, before anything is decoded) and the model's input tensor. A DICOM file is
  // not parsed here (callers run on I/O threads): it is charged twice its size (the bytes and
  // DCMTK's copy) and the tensors of the frames it may have in flight; each frame's decoding
  // charges its own bytes (DicomFile::FrameBytes) when it runs.
  int64_t RequestBytes(const v1::ClassifyRequest& request) const;
  const ByteBudget& inflight() const { return inflight_; }

 private:
  // The pixels to classify, and for DICOM input the instance they came from and the budget bytes
  // their decoding holds until they are resized.
  struct DecodedImage {
    RgbImage rgb;
    std::optional<v1::DicomInstance> dicom;
    int64_t held = 0;
  };
  using Decode = std::function<absl::StatusOr<DecodedImage>()>;
  struct Fanout;

  absl::Status Exhausted(int64_t bytes) const;
  absl::StatusOr<DecodedImage> DecodeRequestImage(const v1::Image& image);
  absl::StatusOr<DecodedImage> DecodeFrame(DicomFile& file, int frame);
  // Parses the file on the pool and classifies one frame or, frame 0 of a multi-frame file, all.
  // `counted`: the answer of a file that fails before its frames are known.
  void ExpandFrames(v1::ClassifyRequest request, AdapterHandle adapter, Clock::time_point deadline,
                    std::function<bool()> cancelled, Done counted, FrameDone each, std::function<void()> finished);
  void LaunchFrame(const std::shared_ptr<Fanout>& fanout, int frame);
  void Preprocess(const std::string& request_id, Decode decode, AdapterHandle adapter, Clock::time_point deadline,
                  std::function<bool()> cancelled, Clock::time_point admitted, Done done);
  v1::ClassifyResponse BuildResponse(const std::string& request_id, const BatchOutcome& outcome, double preprocess_seconds,
                                     Clock::time_point admitted) const;
  // The request's metrics label: the adapter that answered, else the one it named if that is
  // loaded, else ServerMetrics::kUnknownAdapter (client input never becomes a series of its own).
  std::string AdapterLabel(const absl::StatusOr<v1::ClassifyResponse>& response, const std::string& requested) const;
  // `done`, preceded by the request's metrics and log line.
  Done Counted(const std::string& request_id, const std::string& adapter, Clock::time_point admitted, Done done) const;

  Parts p_;
  ByteBudget inflight_;
};

}  // namespace medgemma::server
