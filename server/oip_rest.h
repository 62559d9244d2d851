// The Open Inference Protocol's HTTP/REST encoding, to and from the gRPC messages OipModel takes:
// JSON bodies, plus Triton's binary tensor data extension that tritonclient.http uses by default
// (header Inference-Header-Content-Length: the JSON's length; tensors' bytes follow it, each
// input's size in its parameters.binary_data_size). Beyond the protocol, a BYTES input whose
// parameters say "content_type": "base64" carries base64 strings, so that plain JSON clients can
// send encoded images.
#pragma once

#include <absl/status/statusor.h>

#include <optional>
#include <set>
#include <string>

#include "inference/grpc_service.pb.h"

namespace medgemma::server {

// Values (scalars, lists, objects) one JSON request body may hold at most: a 836x836 RGB image as a
// UINT8 list. A parsed value costs about 16 bytes; larger pixel arrays go as binary data
// (Inference-Header-Content-Length) or encoded bytes.
inline constexpr size_t kMaxJsonValues = size_t{1} << 21;

struct RestInferRequest {
  inference::ModelInferRequest request;
  std::set<std::string> binary_outputs;  // outputs to return as binary data
  bool all_outputs_binary = false;       // parameters.binary_data_output
};

// `json_length`: the Inference-Header-Content-Length header, absent when the body is all JSON.
// INVALID_ARGUMENT naming the problem (bad JSON, a field of the wrong type, binary sizes that do
// not add up, bad base64); RESOURCE_EXHAUSTED for JSON of more than kMaxJsonValues values
// (at most `max_json_values`: engine/bounded_json.h).
absl::StatusOr<RestInferRequest> ParseRestInferRequest(const std::string& body, std::optional<size_t> json_length,
                                                       const std::string& model_name, const std::string& version,
                                                       size_t max_json_values = kMaxJsonValues);

struct RestReply {
  std::string body;
  std::optional<size_t> json_length;  // set when binary data follows the JSON
};
RestReply RestInferResponse(const inference::ModelInferResponse& response, const RestInferRequest& request);

std::string RestModelMetadata(const inference::ModelMetadataResponse& metadata);
std::string RestServerMetadata(const inference::ServerMetadataResponse& metadata);
// {"error": message}, KServe's error body.
std::string RestError(const std::string& message);

}  // namespace medgemma::server
