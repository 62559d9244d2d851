// The Open Inference Protocol's tensors for the classifier (server/oip_tensors.h) and their REST
// encoding (server/oip_rest.h): images read from every accepted form, outputs written in order,
// and every malformed request an INVALID_ARGUMENT that names the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "server/oip_rest.h"
#include "server/oip_tensors.h"

namespace medgemma::server {
namespace {
using inference::ModelInferRequest;

std::string Raw(const std::vector<std::string>& elements) {
  std::string raw;
  for (const auto& e : elements) {
    const uint32_t n = static_cast<uint32_t>(e.size());
    raw.append(reinterpret_cast<const char*>(&n), 4);  // little-endian host
    raw += e;
  }
  return raw;
}

ModelInferRequest Request(const std::string& datatype, std::vector<int64_t> shape) {
  ModelInferRequest r;
  auto* input = r.add_inputs();
  input->set_name("image");
  input->set_datatype(datatype);
  for (int64_t d : shape) input->add_shape(d);
  return r;
}

void ExpectInvalid(const ModelInferRequest& r, const std::string& names) {
  auto images = ReadOipImages(r, 8);
  ASSERT_FALSE(images.ok());
  EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(images.status().message().find(names), std::string::npos) << images.status();
}

TEST(OipTensorsTest, ReadsBytesFromContentsAndRaw) {
  ModelInferRequest r = Request("BYTES", {2});
  r.mutable_inputs(0)->mutable_contents()->add_bytes_contents("png-a");
  r.mutable_inputs(0)->mutable_contents()->add_bytes_contents("png-b");
  auto images = ReadOipImages(r, 8);
  ASSERT_TRUE(images.ok()) << images.status();
  ASSERT_EQ(images->size(), 2u);
  EXPECT_EQ((*images)[1].encoded(), "png-b");

  ModelInferRequest raw = Request("BYTES", {2, 1});
  raw.add_raw_input_contents(Raw({"x", "yz"}));
  images = ReadOipImages(raw, 8);
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ((*images)[0].encoded(), "x");
  EXPECT_EQ((*images)[1].encoded(), "yz");
}

TEST(OipTensorsTest, ReadsUint8PixelsOneOrABatch) {
  ModelInferRequest r = Request("UINT8", {2, 1, 2, 3});
  r.add_raw_input_contents(std::string("abcdefghijkl"));
  auto images = ReadOipImages(r, 8);
  ASSERT_TRUE(images.ok()) << images.status();
  ASSERT_EQ(images->size(), 2u);
  EXPECT_EQ((*images)[1].raw().rgb(), "ghijkl");
  EXPECT_EQ((*images)[1].raw().width(), 2);
  EXPECT_EQ((*images)[1].raw().height(), 1);

  ModelInferRequest typed = Request("UINT8", {1, 1, 3});
  for (uint32_t v : {1u, 2u, 3u}) typed.mutable_inputs(0)->mutable_contents()->add_uint_contents(v);
  images = ReadOipImages(typed, 8);
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ((*images)[0].raw().rgb(), std::string("\x01\x02\x03"));
}

TEST(OipTensorsTest, RefusesMalformedRequestsNamingTheProblem) {
  ExpectInvalid(ModelInferRequest(), "exactly one input");
  ExpectInvalid(Request("FP32", {1}), "FP32");
  ExpectInvalid(Request("BYTES", {1, 2, 3}), "[1,2,3]");
  ExpectInvalid(Request("UINT8", {4, 4, 4}), "[4,4,4]");
  ModelInferRequest count = Request("BYTES", {3});
  count.mutable_inputs(0)->mutable_contents()->add_bytes_contents("one");
  ExpectInvalid(count, "carries 1 elements");
  ModelInferRequest big = Request("BYTES", {9});
  big.add_raw_input_contents(Raw(std::vector<std::string>(9, "x")));
  ExpectInvalid(big, "outside 1..8");
  ModelInferRequest truncated = Request("BYTES", {1});
  truncated.add_raw_input_contents(std::string("\x10\x00\x00\x00" "abc", 7));
  ExpectInvalid(truncated, "claims 16 bytes");
  ModelInferRequest pixels = Request("UINT8", {2, 2, 3});
  pixels.add_raw_input_contents(std::string(11, '\0'));
  ExpectInvalid(pixels, "carries 11 bytes");
  ModelInferRequest huge = Request("UINT8", {int64_t{1} << 40, 1, 3});
  ExpectInvalid(huge, "height and width");
  ModelInferRequest output = Request("BYTES", {1});
  output.mutable_inputs(0)->mutable_contents()->add_bytes_contents("x");
  output.add_outputs()->set_name("logits");
  ExpectInvalid(output, "logits");
}

TEST(OipTensorsTest, WritesRequestedOutputsRowPerImage) {
  std::vector<v1::ClassifyResponse> responses(2);
  for (int i = 0; i < 2; ++i) {
    responses[i].set_label(i + 3);
    responses[i].set_label_name(i ? "b" : "a");
    for (int k = 0; k < 8; ++k) responses[i].add_probabilities()->set_probability(0.125f * (i + 1));
  }
  ModelInferRequest all;
  inference::ModelInferResponse out;
  WriteOipOutputs(all, responses, 8, &out);
  ASSERT_EQ(out.outputs_size(), 3);
  EXPECT_EQ(out.outputs(0).name(), "probabilities");
  EXPECT_EQ(out.outputs(0).shape(1), 8);
  ASSERT_EQ(out.raw_output_contents(0).size(), 2u * 8 * 4);
  float last;
  std::memcpy(&last, out.raw_output_contents(0).data() + 15 * 4, 4);
  EXPECT_FLOAT_EQ(last, 0.25f);
  int32_t second_label;
  std::memcpy(&second_label, out.raw_output_contents(1).data() + 4, 4);
  EXPECT_EQ(second_label, 4);
  EXPECT_EQ(*SplitRawBytes(out.raw_output_contents(2)), (std::vector<std::string>{"a", "b"}));

  ModelInferRequest one;
  one.add_outputs()->set_name("label_name");
  inference::ModelInferResponse subset;
  WriteOipOutputs(one, responses, 8, &subset);
  ASSERT_EQ(subset.outputs_size(), 1);
  EXPECT_EQ(subset.outputs(0).datatype(), "BYTES");
}

TEST(OipRestTest, ParsesJsonBinaryAndBase64Inputs) {
  const std::string header = R"({"id":"r1","inputs":[{"name":"image","datatype":"BYTES","shape":[1],
                                  "parameters":{"binary_data_size":7}}],
                                 "outputs":[{"name":"label","parameters":{"binary_data":true}}]})";
  auto parsed = ParseRestInferRequest(header + Raw({"png"}), header.size(), "tiny", "a1");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.id(), "r1");
  EXPECT_EQ(parsed->request.model_version(), "a1");
  EXPECT_EQ(*SplitRawBytes(parsed->request.raw_input_contents(0)), std::vector<std::string>{"png"});
  EXPECT_EQ(parsed->binary_outputs.count("label"), 1u);

  parsed = ParseRestInferRequest(
      R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"content_type":"base64"},"data":["aGk="]}]})",
      std::nullopt, "tiny", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.inputs(0).contents().bytes_contents(0), "hi");

  parsed = ParseRestInferRequest(R"({"inputs":[{"name":"image","datatype":"UINT8","shape":[1,1,3],"data":[[[1,2,3]]]}]})",
                                 std::nullopt, "tiny", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.inputs(0).contents().uint_contents_size(), 3);
}

TEST(OipRestTest, RefusesMalformedBodies) {
  for (const auto& [body, names] : std::vector<std::pair<std::string, std::string>>{
           {"{not json", "not valid JSON"},
           {"[]", "JSON object"},
           {R"({"inputs":5})", "inputs"},
           {R"({"inputs":[{"name":"image","datatype":"BYTES"}]})", "shape"},
           {R"({"inputs":[{"name":"image","datatype":"BYTES","shape":["x"]}]})", "shape"},
           {R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":[5]}]})", "string"},
           {R"({"inputs":[{"name":"image","datatype":"UINT8","shape":[1],"data":[300]}]})", "0..255"},
           {R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"content_type":"base64"},"data":["***"]}]})",
            "base64"},
           {R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":99}}]})", "remain"},
       }) {
    auto parsed = ParseRestInferRequest(body, std::nullopt, "tiny", "");
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_NE(parsed.status().message().find(names), std::string::npos) << body << " -> " << parsed.status();
  }
  EXPECT_FALSE(ParseRestInferRequest("{}", 10, "tiny", "").ok());  // header length past the body
}

TEST(OipRestTest, ResponseAsJsonOrBinary) {
  inference::ModelInferResponse response;
  response.set_model_name("tiny");
  auto* label = response.add_outputs();
  label->set_name("label");
  label->set_datatype("INT32");
  label->add_shape(1);
  const int32_t value = 5;
  response.add_raw_output_contents(std::string(reinterpret_cast<const char*>(&value), 4));
  RestReply json_reply = RestInferResponse(response, RestInferRequest{});
  EXPECT_FALSE(json_reply.json_length.has_value());
  EXPECT_EQ(nlohmann::json::parse(json_reply.body)["outputs"][0]["data"][0], 5);
  RestInferRequest binary;
  binary.all_outputs_binary = true;
  RestReply binary_reply = RestInferResponse(response, binary);
  ASSERT_TRUE(binary_reply.json_length.has_value());
  EXPECT_EQ(binary_reply.body.size(), *binary_reply.json_length + 4);
  EXPECT_EQ(nlohmann::json::parse(binary_reply.body.substr(0, *binary_reply.json_length))["outputs"][0]["parameters"]
                                                                                             ["binary_data_size"],
            4);
}

}  // namespace
}  // namespace medgemma::server
