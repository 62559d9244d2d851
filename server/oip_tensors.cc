#include "server/oip_tensors.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <cstring>

namespace medgemma::server {
namespace {
using inference::ModelInferRequest;

// Wider than any image the decoder's pixel limit lets through, narrow enough that N*H*W*3 cannot
// overflow.
constexpr int64_t kMaxSide = int64_t{1} << 20;

std::string ShapeText(const ModelInferRequest::InferInputTensor& input) {
  return absl::StrCat("[", absl::StrJoin(input.shape(), ","), "]");
}

absl::Status CheckBatch(int64_t n, int max_batch) {
  if (n < 1 || n > max_batch) {
    return absl::InvalidArgumentError(absl::StrCat("batch dimension ", n, " is outside 1..", max_batch,
                                                   " (the server's max_batch_size)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Image>> ReadEncoded(const ModelInferRequest& request, int max_batch) {
  const auto& input = request.inputs(0);
  const bool column = input.shape_size() == 2 && input.shape(1) == 1;
  if (input.shape_size() != 1 && !column) {
    return absl::InvalidArgumentError(
        absl::StrCat("input image of datatype BYTES has shape ", ShapeText(input), "; expected [N] or [N,1]"));
  }
  std::vector<std::string> elements;
  if (request.raw_input_contents_size() > 0) {
    absl::StatusOr<std::vector<std::string>> split = SplitRawBytes(request.raw_input_contents(0));
    if (!split.ok()) return split.status();
    elements = *std::move(split);
  } else {
    elements.assign(input.contents().bytes_contents().begin(), input.contents().bytes_contents().end());
  }
  if (static_cast<int64_t>(elements.size()) != input.shape(0)) {
    return absl::InvalidArgumentError(absl::StrCat("input image has shape ", ShapeText(input), " but carries ",
                                                   elements.size(), " elements"));
  }
  if (absl::Status batch = CheckBatch(input.shape(0), max_batch); !batch.ok()) return batch;
  std::vector<v1::Image> images(elements.size());
  for (size_t i = 0; i < elements.size(); ++i) images[i].set_encoded(std::move(elements[i]));
  return images;
}

absl::StatusOr<std::vector<v1::Image>> ReadPixels(const ModelInferRequest& request, int max_batch) {
  const auto& input = request.inputs(0);
  const int rank = input.shape_size();
  if ((rank != 3 && rank != 4) || input.shape(rank - 1) != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("input image of datatype UINT8 has shape ", ShapeText(input), "; expected [H,W,3] or [N,H,W,3]"));
  }
  const int64_t n = rank == 4 ? input.shape(0) : 1;
  const int64_t height = input.shape(rank - 3), width = input.shape(rank - 2);
  if (absl::Status batch = CheckBatch(n, max_batch); !batch.ok()) return batch;
  if (height < 1 || height > kMaxSide || width < 1 || width > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrCat("input image has shape ", ShapeText(input), "; height and width must be in 1..",
                                                   kMaxSide));
  }
  const int64_t image_bytes = height * width * 3;
  std::string pixels;
  if (request.raw_input_contents_size() > 0) {
    pixels = request.raw_input_contents(0);
  } else {
    const auto& values = input.contents().uint_contents();
    if (static_cast<int64_t>(values.size()) == n * image_bytes) {
      pixels.resize(values.size());
      for (int i = 0; i < values.size(); ++i) {
        if (values[i] > 255) {
          return absl::InvalidArgumentError(absl::StrCat("input image element ", i, " is ", values[i], ", not a UINT8"));
        }
        pixels[i] = static_cast<char>(values[i]);
      }
    } else {
      pixels.resize(values.size());  // the size check below names the mismatch
    }
  }
  if (static_cast<int64_t>(pixels.size()) != n * image_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("input image has shape ", ShapeText(input), " (", n * image_bytes,
                                                   " bytes) but carries ", pixels.size(), " bytes"));
  }
  std::vector<v1::Image> images(n);
  for (int64_t i = 0; i < n; ++i) {
    v1::RawImage* raw = images[i].mutable_raw();
    raw->set_width(static_cast<int32_t>(width));
    raw->set_height(static_cast<int32_t>(height));
    raw->set_rgb(pixels.substr(i * image_bytes, image_bytes));
  }
  return images;
}

absl::Status CheckRequestedOutputs(const ModelInferRequest& request) {
  for (const auto& output : request.outputs()) {
    const std::string& name = output.name();
    if (name != kOipProbabilitiesOutput && name != kOipLabelOutput && name != kOipLabelNameOutput) {
      return absl::InvalidArgumentError(absl::StrCat("unknown output \"", name, "\"; the model has ",
                                                     kOipProbabilitiesOutput, ", ", kOipLabelOutput, " and ",
                                                     kOipLabelNameOutput));
    }
  }
  return absl::OkStatus();
}

template <class T>
std::string RawOf(const std::vector<T>& values) {
  std::string raw(values.size() * sizeof(T), '\0');
  if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
  return raw;
}

void AppendRawBytes(const std::string& element, std::string* raw) {
  const uint32_t size = static_cast<uint32_t>(element.size());
  const char bytes[4] = {static_cast<char>(size & 0xff), static_cast<char>((size >> 8) & 0xff),
                         static_cast<char>((size >> 16) & 0xff), static_cast<char>((size >> 24) & 0xff)};
  raw->append(bytes, 4);
  raw->append(element);
}
}  // namespace

absl::StatusOr<std::vector<std::string>> SplitRawBytes(const std::string& raw) {
  std::vector<std::string> elements;
  size_t at = 0;
  while (at < raw.size()) {
    if (raw.size() - at < 4) {
      return absl::InvalidArgumentError(absl::StrCat("BYTES tensor data ends inside an element's 4-byte length at offset ", at));
    }
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data() + at);
    const uint64_t size = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint64_t>(p[3]) << 24);
    at += 4;
    if (size > raw.size() - at) {
      return absl::InvalidArgumentError(absl::StrCat("BYTES tensor element ", elements.size(), " claims ", size,
                                                     " bytes but only ", raw.size() - at, " remain"));
    }
    elements.push_back(raw.substr(at, size));
    at += size;
  }
  return elements;
}

absl::StatusOr<std::vector<v1::Image>> ReadOipImages(const ModelInferRequest& request, int max_batch) {
  if (request.inputs_size() != 1 || request.inputs(0).name() != kOipImageInput) {
    return absl::InvalidArgumentError(absl::StrCat("the model takes exactly one input, \"", kOipImageInput, "\"; the request has ",
                                                   request.inputs_size(),
                                                   request.inputs_size() == 1 ? " named \"" + request.inputs(0).name() + "\"" : ""));
  }
  if (request.raw_input_contents_size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw_input_contents has ", request.raw_input_contents_size(), " entries for 1 input"));
  }
  if (absl::Status outputs = CheckRequestedOutputs(request); !outputs.ok()) return outputs;
  const std::string& datatype = request.inputs(0).datatype();
  if (datatype == "BYTES") return ReadEncoded(request, max_batch);
  if (datatype == "UINT8") return ReadPixels(request, max_batch);
  return absl::InvalidArgumentError(absl::StrCat("input image has datatype \"", datatype,
                                                 "\"; expected BYTES (encoded images) or UINT8 (RGB pixels)"));
}

void WriteOipOutputs(const ModelInferRequest& request, const std::vector<v1::ClassifyResponse>& responses,
                     int num_labels, inference::ModelInferResponse* out) {
  std::vector<std::string> names;
  for (const auto& output : request.outputs()) names.push_back(output.name());
  if (names.empty()) names = {kOipProbabilitiesOutput, kOipLabelOutput, kOipLabelNameOutput};
  const int64_t n = static_cast<int64_t>(responses.size());
  for (const std::string& name : names) {
    auto* tensor = out->add_outputs();
    tensor->set_name(name);
    tensor->add_shape(n);
    if (name == kOipProbabilitiesOutput) {
      tensor->set_datatype("FP32");
      tensor->add_shape(num_labels);
      std::vector<float> values;
      for (const auto& r : responses) {
        for (const auto& p : r.probabilities()) values.push_back(p.probability());
      }
      out->add_raw_output_contents(RawOf(values));
    } else if (name == kOipLabelOutput) {
      tensor->set_datatype("INT32");
      std::vector<int32_t> values;
      for (const auto& r : responses) values.push_back(r.label());
      out->add_raw_output_contents(RawOf(values));
    } else {
      tensor->set_datatype("BYTES");
      std::string raw;
      for (const auto& r : responses) AppendRawBytes(r.label_name(), &raw);
      out->add_raw_output_contents(std::move(raw));
    }
  }
}

}  // namespace medgemma::server
