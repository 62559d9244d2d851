// The Open Inference Protocol's tensors for the classifier: the one input, `image`, read into
// medgemma.v1 images, and the three outputs written from ClassifyResponses. The same code serves
// the gRPC service and the HTTP/JSON endpoint (which parses its JSON into a ModelInferRequest).
//
//   image          BYTES [N] or [N,1]: one encoded image (PNG, JPEG, TIFF, BMP) per element
//                  UINT8 [H,W,3] or [N,H,W,3]: RGB pixels, row-major
//   probabilities  FP32  [N, labels]
//   label          INT32 [N]
//   label_name     BYTES [N]
//
// Tensor data comes either in the tensor's typed `contents` or in `raw_input_contents` (one entry
// per input, BYTES elements each prefixed by a little-endian uint32 length); outputs go out in
// `raw_output_contents`, as Triton does.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "inference/grpc_service.pb.h"
#include "medgemma/v1/classifier.pb.h"

namespace medgemma::server {

inline constexpr char kOipImageInput[] = "image";
inline constexpr char kOipProbabilitiesOutput[] = "probabilities";
inline constexpr char kOipLabelOutput[] = "label";
inline constexpr char kOipLabelNameOutput[] = "label_name";

// The request's images, 1..max_batch of them. INVALID_ARGUMENT naming the problem: a missing or
// unknown input, a datatype or shape the model does not take, data whose size disagrees with the
// shape, an unknown output name.
absl::StatusOr<std::vector<v1::Image>> ReadOipImages(const inference::ModelInferRequest& request, int max_batch);

// The outputs the request asked for (all three when it named none), one row per response, in
// request order.
void WriteOipOutputs(const inference::ModelInferRequest& request, const std::vector<v1::ClassifyResponse>& responses,
                     int num_labels, inference::ModelInferResponse* out);

// Splits a BYTES tensor's raw encoding (uint32 LE length, bytes, repeated).
absl::StatusOr<std::vector<std::string>> SplitRawBytes(const std::string& raw);

}  // namespace medgemma::server
