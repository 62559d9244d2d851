#include "server/oip_rest.h"

#include <absl/strings/escaping.h>
#include <absl/strings/str_cat.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/bounded_json.h"
#include "server/oip_tensors.h"

namespace medgemma::server {
namespace {
using nlohmann::json;

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

template <class Range>
json Array(const Range& values) {
  json out = json::array();
  for (const auto& v : values) out.push_back(v);
  return out;
}

// Tensor data may nest lists (row-major) or be flat; both flatten to the elements in order. No
// tensor here has more than 4 dimensions: deeper nesting is refused before it can exhaust the stack.
constexpr int kMaxNesting = 8;
bool Flatten(const json& data, int depth, std::vector<const json*>* out) {
  if (!data.is_array()) {
    out->push_back(&data);
    return true;
  }
  if (depth >= kMaxNesting) return false;
  for (const json& item : data) {
    if (!Flatten(item, depth + 1, out)) return false;
  }
  return true;
}

bool BoolParameter(const json& holder, const char* name) {
  if (!holder.is_object() || !holder.contains("parameters") || !holder["parameters"].is_object()) return false;
  const json& p = holder["parameters"];
  return p.contains(name) && p[name].is_boolean() && p[name].get<bool>();
}

absl::Status ReadInput(const json& in, size_t index, const std::string& binary, size_t* binary_at,
                       inference::ModelInferRequest* request) {
  const std::string where = absl::StrCat("inputs[", index, "]");
  if (!in.is_object()) return Invalid(absl::StrCat(where, " is not an object"));
  if (!in.contains("name") || !in["name"].is_string()) return Invalid(absl::StrCat(where, ".name must be a string"));
  if (!in.contains("datatype") || !in["datatype"].is_string()) return Invalid(absl::StrCat(where, ".datatype must be a string"));
  if (!in.contains("shape") || !in["shape"].is_array()) return Invalid(absl::StrCat(where, ".shape must be a list of integers"));
  auto* tensor = request->add_inputs();
  tensor->set_name(in["name"].get<std::string>());
  tensor->set_datatype(in["datatype"].get<std::string>());
  for (const json& d : in["shape"]) {
    if (!d.is_number_integer()) return Invalid(absl::StrCat(where, ".shape must be a list of integers"));
    tensor->add_shape(d.get<int64_t>());
  }
  const json* parameters = in.contains("parameters") && in["parameters"].is_object() ? &in["parameters"] : nullptr;
  if (parameters != nullptr && parameters->contains("binary_data_size")) {
    const json& size = (*parameters)["binary_data_size"];
    if (!size.is_number_unsigned()) return Invalid(absl::StrCat(where, ".parameters.binary_data_size must be a count of bytes"));
    const uint64_t n = size.get<uint64_t>();
    if (n > binary.size() - *binary_at) {
      return Invalid(absl::StrCat(where, " claims ", n, " bytes of binary data; ", binary.size() - *binary_at, " remain"));
    }
    request->add_raw_input_contents(binary.substr(*binary_at, n));
    *binary_at += n;
    return absl::OkStatus();
  }
  if (!in.contains("data")) return Invalid(absl::StrCat(where, " has neither data nor parameters.binary_data_size"));
  std::vector<const json*> elements;
  if (!Flatten(in["data"], 0, &elements)) {
    return Invalid(absl::StrCat(where, ".data nests lists deeper than ", kMaxNesting));
  }
  const bool base64 = parameters != nullptr && parameters->contains("content_type") &&
                      (*parameters)["content_type"] == "base64";
  auto* contents = tensor->mutable_contents();
  for (size_t i = 0; i < elements.size(); ++i) {
    const json& e = *elements[i];
    if (tensor->datatype() == "BYTES") {
      if (!e.is_string()) return Invalid(absl::StrCat(where, ".data[", i, "] must be a string for BYTES"));
      std::string value = e.get<std::string>();
      if (base64) {
        std::string decoded;
        if (!absl::Base64Unescape(value, &decoded)) return Invalid(absl::StrCat(where, ".data[", i, "] is not valid base64"));
        value = std::move(decoded);
      }
      contents->add_bytes_contents(std::move(value));
    } else if (tensor->datatype() == "UINT8") {
      if (!e.is_number_unsigned() || e.get<uint64_t>() > 255) {
        return Invalid(absl::StrCat(where, ".data[", i, "] must be an integer in 0..255 for UINT8"));
      }
      contents->add_uint_contents(e.get<uint32_t>());
    } else {
      return Invalid(absl::StrCat(where, " has datatype \"", tensor->datatype(),
                                  "\"; expected BYTES (encoded images) or UINT8 (RGB pixels)"));
    }
  }
  return absl::OkStatus();
}

json OutputData(const inference::ModelInferResponse::InferOutputTensor& tensor, const std::string& raw) {
  json data = json::array();
  if (tensor.datatype() == "FP32") {
    for (size_t i = 0; i + 4 <= raw.size(); i += 4) {
      float v;
      std::memcpy(&v, raw.data() + i, 4);
      data.push_back(v);
    }
  } else if (tensor.datatype() == "INT32") {
    for (size_t i = 0; i + 4 <= raw.size(); i += 4) {
      int32_t v;
      std::memcpy(&v, raw.data() + i, 4);
      data.push_back(v);
    }
  } else {
    absl::StatusOr<std::vector<std::string>> elements = SplitRawBytes(raw);  // written by WriteOipOutputs
    if (elements.ok()) {
      for (const std::string& e : *elements) data.push_back(e);
    }
  }
  return data;
}
}  // namespace

absl::StatusOr<RestInferRequest> ParseRestInferRequest(const std::string& body, std::optional<size_t> json_length,
                                                       const std::string& model_name, const std::string& version,
                                                       size_t max_json_values) {
  if (json_length && *json_length > body.size()) {
    return Invalid(absl::StrCat("Inference-Header-Content-Length ", *json_length, " exceeds the body's ", body.size(), " bytes"));
  }
  const size_t header_size = json_length ? *json_length : body.size();
  absl::StatusOr<json> parsed =
      ParseBoundedJson(absl::string_view(body).substr(0, header_size), "the request body", max_json_values);
  if (!parsed.ok()) return parsed.status();
  const json& root = *parsed;
  if (!root.is_object()) return Invalid("the request body must be a JSON object");
  RestInferRequest out;
  inference::ModelInferRequest& r = out.request;
  r.set_model_name(model_name);
  r.set_model_version(version);
  if (root.contains("id")) {
    if (!root["id"].is_string()) return Invalid("id must be a string");
    r.set_id(root["id"].get<std::string>());
  }
  out.all_outputs_binary = BoolParameter(root, "binary_data_output");
  if (!root.contains("inputs") || !root["inputs"].is_array()) return Invalid("inputs must be a list of tensors");
  const std::string binary = body.substr(header_size);
  size_t binary_at = 0;
  for (size_t i = 0; i < root["inputs"].size(); ++i) {
    if (absl::Status s = ReadInput(root["inputs"][i], i, binary, &binary_at, &r); !s.ok()) return s;
  }
  if (binary_at != binary.size()) {
    return Invalid(absl::StrCat(binary.size() - binary_at, " bytes of binary data follow the JSON that no input claims"));
  }
  if (r.raw_input_contents_size() > 0 && r.raw_input_contents_size() != r.inputs_size()) {
    return Invalid("either every input or none carries binary data");
  }
  if (root.contains("outputs")) {
    if (!root["outputs"].is_array()) return Invalid("outputs must be a list");
    for (const json& o : root["outputs"]) {
      if (!o.is_object() || !o.contains("name") || !o["name"].is_string()) return Invalid("each output needs a name");
      r.add_outputs()->set_name(o["name"].get<std::string>());
      if (BoolParameter(o, "binary_data")) out.binary_outputs.insert(o["name"].get<std::string>());
    }
  }
  return out;
}

RestReply RestInferResponse(const inference::ModelInferResponse& response, const RestInferRequest& request) {
  json root = {{"model_name", response.model_name()}, {"model_version", response.model_version()}, {"outputs", json::array()}};
  if (!response.id().empty()) root["id"] = response.id();
  std::string binary;
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& tensor = response.outputs(i);
    const std::string& raw = response.raw_output_contents(i);
    json out = {{"name", tensor.name()}, {"datatype", tensor.datatype()}, {"shape", Array(tensor.shape())}};
    if (request.all_outputs_binary || request.binary_outputs.count(tensor.name())) {
      out["parameters"] = {{"binary_data_size", raw.size()}};
      binary += raw;
    } else {
      out["data"] = OutputData(tensor, raw);
    }
    root["outputs"].push_back(std::move(out));
  }
  RestReply reply{root.dump(-1, ' ', false, json::error_handler_t::replace), std::nullopt};
  if (!binary.empty()) {
    reply.json_length = reply.body.size();
    reply.body += binary;
  }
  return reply;
}

std::string RestModelMetadata(const inference::ModelMetadataResponse& m) {
  const auto tensors = [](const auto& list) {
    json out = json::array();
    for (const auto& t : list) {
      out.push_back({{"name", t.name()}, {"datatype", t.datatype()}, {"shape", Array(t.shape())}});
    }
    return out;
  };
  return json{{"name", m.name()},
              {"versions", Array(m.versions())},
              {"platform", m.platform()},
              {"inputs", tensors(m.inputs())},
              {"outputs", tensors(m.outputs())}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RestServerMetadata(const inference::ServerMetadataResponse& m) {
  return json{{"name", m.name()}, {"version", m.version()}, {"extensions", Array(m.extensions())}}
      .dump();
}

std::string RestError(const std::string& message) {
  return json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace medgemma::server
