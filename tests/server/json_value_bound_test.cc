// The value bound on JSON request bodies (ParseBoundedJson's max_values, used by the HTTP port):
// values past it are never built, and the body is RESOURCE_EXHAUSTED (413 on HTTP).
#include <gtest/gtest.h>

#include <string>

#include "engine/bounded_json.h"
#include "server/oip_rest.h"

namespace medgemma::server {
namespace {

std::string Uint8List(size_t n) {
  std::string data = "[";
  for (size_t i = 0; i < n; ++i) data += i ? ",0" : "0";
  return data + "]";
}

TEST(JsonValueBoundTest, CountsEveryValue) {
  // {"a":[0,0,0]}: the object, the list and three numbers.
  EXPECT_TRUE(ParseBoundedJson(R"({"a":[0,0,0]})", "body", 5).ok());
  absl::StatusOr<nlohmann::json> over = ParseBoundedJson(R"({"a":[0,0,0]})", "body", 4);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("body holds more than 4 values"), std::string::npos) << over.status();

  absl::StatusOr<nlohmann::json> bad = ParseBoundedJson("{not json", "body", 100);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseBoundedJson("[1,", "body", 1).status().code(), absl::StatusCode::kInvalidArgument);  // syntax first
}

TEST(JsonValueBoundTest, InferBodiesOfTooManyUint8ValuesAreRefusedBeforeFlattening) {
  const std::string body = R"({"inputs":[{"name":"image","datatype":"UINT8","shape":[1000,1000,3],"data":)" +
                           Uint8List(3'000'000) + "}]}";
  absl::StatusOr<RestInferRequest> parsed = ParseRestInferRequest(body, std::nullopt, "tiny", "");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kResourceExhausted);  // kMaxJsonValues is 2M
  parsed = ParseRestInferRequest(body, std::nullopt, "tiny", "", 4'000'000);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.inputs(0).contents().uint_contents_size(), 3'000'000);
}

}  // namespace
}  // namespace medgemma::server
