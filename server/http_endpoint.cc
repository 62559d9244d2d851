#include "server/http_endpoint.h"

#include <absl/strings/ascii.h>
#include <absl/strings/escaping.h>
#include <absl/strings/match.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <civetweb.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/ssl.h>

#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "base/log.h"
#include "rpc/http_status.h"
#include "server/classification_audit.h"
#include "server/oip_rest.h"
#include "server/open_inference_service.h"
#include "server/openapi_document.h"

namespace medgemma::server {
namespace {
// How long a request may wait for its answer; the pipeline honours it as the request's deadline.
constexpr auto kRequestDeadline = std::chrono::seconds(60);

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::optional<size_t> json_length;  // Inference-Header-Content-Length
};

Reply ErrorReply(const absl::Status& status) { return {rpc::HttpStatusOf(status), RestError(std::string(status.message()))}; }

void Send(mg_connection* c, const Reply& r) {
  std::string head = absl::StrCat("HTTP/1.1 ", r.status, " ", mg_get_response_code_text(c, r.status),
                                  "\r\nContent-Type: ", r.content_type, "\r\nContent-Length: ", r.body.size(), "\r\n");
  if (r.json_length) absl::StrAppend(&head, "Inference-Header-Content-Length: ", *r.json_length, "\r\n");
  head += "\r\n";
  mg_write(c, head.data(), head.size());
  mg_write(c, r.body.data(), r.body.size());
}

// The body, whole, or 413 past `limit` (Content-Length checked before anything is read).
absl::StatusOr<std::string> ReadBody(mg_connection* c, int64_t limit) {
  const mg_request_info* info = mg_get_request_info(c);
  if (info->content_length > limit) {
    return absl::ResourceExhaustedError(absl::StrCat("the body's ", info->content_length, " bytes exceed the limit of ", limit));
  }
  std::string body;
  char buffer[64 << 10];
  while (true) {
    const int n = mg_read(c, buffer, sizeof(buffer));
    if (n <= 0) break;
    body.append(buffer, n);
    if (static_cast<int64_t>(body.size()) > limit) {
      return absl::ResourceExhaustedError(absl::StrCat("the body exceeds the limit of ", limit, " bytes"));
    }
  }
  return body;
}

// ResourceExhausted from ReadBody is the request's size: 413, not the 429 of a busy server.
Reply BodyError(const absl::Status& status) {
  Reply r = ErrorReply(status);
  if (absl::IsResourceExhausted(status)) r.status = 413;
  return r;
}

std::string Header(mg_connection* c, const char* name) {
  const char* value = mg_get_header(c, name);
  return value == nullptr ? std::string() : std::string(value);
}

// The multipart fields of /v1/classify, collected by civetweb's form parser.
struct Form {
  std::string image, adapter, request_id;
  int64_t limit = 0, size = 0;
  bool too_large = false;
  std::string* current = nullptr;
};

int FormFieldFound(const char* key, const char*, char*, size_t, void* user) {
  auto* form = static_cast<Form*>(user);
  const std::string name(key == nullptr ? "" : key);
  form->current = name == "image" ? &form->image : name == "adapter" ? &form->adapter
                  : name == "request_id"          ? &form->request_id
                                                  : nullptr;
  return form->current ? MG_FORM_FIELD_STORAGE_GET : MG_FORM_FIELD_STORAGE_SKIP;
}

int FormFieldGet(const char*, const char* value, size_t length, void* user) {
  auto* form = static_cast<Form*>(user);
  form->size += static_cast<int64_t>(length);
  if (form->size > form->limit) {
    form->too_large = true;
    return MG_FORM_FIELD_HANDLE_ABORT;
  }
  form->current->append(value, length);
  return MG_FORM_FIELD_HANDLE_GET;
}

std::string ClassifyResponseJson(const v1::ClassifyResponse& response) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(response, &json, options);  // cannot fail on a valid message
  return json;
}

std::string ModelConfigJson(const inference::ModelConfigResponse& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(config.config(), &json, options);
  return json;
}

// One HTTP request, from routing to reply. Runs on a civetweb worker thread, which waits for
// the pipeline's answer.
class Exchange {
 public:
  Exchange(mg_connection* c, const HttpEndpoint::Parts& p) : c_(c), p_(p), info_(mg_get_request_info(c)) {}

  Reply Route() {
    const std::string method = info_->request_method;
    const std::string path = info_->local_uri == nullptr ? "" : info_->local_uri;
    if (path == "/openapi.json") return Get(method, [] { return Reply{200, OpenApiDocument()}; });
    if (path == "/v2/health/live") return Get(method, [] { return Reply{200, R"({"live":true})"}; });
    if (path == "/v2/health/ready") {
      return Get(method, [&] {
        const bool ready = p_.model->serving();
        return Reply{ready ? 200 : 503, ready ? R"({"ready":true})" : R"({"ready":false})"};
      });
    }
    if (path == "/v1/classify") return Post(method, [&] { return Classify(); });
    if (path == "/v2") return Get(method, [&] { return Authorized([] { return Reply{200, RestServerMetadata(OipServerMetadata())}; }); });
    if (absl::StartsWith(path, "/v2/models/")) return Model(method, path.substr(strlen("/v2/models/")));
    return {404, RestError(absl::StrCat("no endpoint ", path, "; see /openapi.json"))};
  }

 private:
  template <class F>
  Reply Get(const std::string& method, F answer) {
    if (method != "GET") return {405, RestError(absl::StrCat(method, " is not allowed here; use GET"))};
    return answer();
  }
  template <class F>
  Reply Post(const std::string& method, F answer) {
    if (method != "POST") return {405, RestError(absl::StrCat(method, " is not allowed here; use POST"))};
    return answer();
  }
  absl::StatusOr<rpc::Caller> Authorize() const {
    return p_.auth->Authorize(Header(c_, "Authorization"), rpc::Role::kClassify);
  }
  template <class F>
  Reply Authorized(F answer) {
    absl::StatusOr<rpc::Caller> caller = Authorize();
    if (!caller.ok()) return ErrorReply(caller.status());
    return answer();
  }

  // {name}[/versions/{v}][/ready|/config|/infer]
  Reply Model(const std::string& method, const std::string& rest) {
    std::vector<std::string> parts = absl::StrSplit(rest, '/');
    const std::string name = parts[0];
    std::string version;
    size_t at = 1;
    if (parts.size() >= 3 && parts[1] == "versions") {
      version = parts[2];
      at = 3;
    }
    const std::string action = at < parts.size() ? parts[at] : "";
    if (at + 1 < parts.size() || name.empty()) return {404, RestError(absl::StrCat("no endpoint /v2/models/", rest))};
    if (action.empty()) {
      return Get(method, [&] {
        return Authorized([&] {
          absl::StatusOr<inference::ModelMetadataResponse> m = p_.model->Metadata(name, version);
          return m.ok() ? Reply{200, RestModelMetadata(*m)} : ErrorReply(m.status());
        });
      });
    }
    if (action == "ready") {
      return Get(method, [&] {
        return Authorized([&] {
          const absl::Status served = p_.model->CheckServed(name, version);
          if (!served.ok()) return ErrorReply(served);
          const bool ready = p_.model->serving();
          return Reply{ready ? 200 : 503, nlohmann::json{{"name", name}, {"ready", ready}}.dump()};
        });
      });
    }
    if (action == "config") {
      return Get(method, [&] {
        return Authorized([&] {
          absl::StatusOr<inference::ModelConfigResponse> config = p_.model->Config(name, version);
          return config.ok() ? Reply{200, ModelConfigJson(*config)} : ErrorReply(config.status());
        });
      });
    }
    if (action == "infer") return Post(method, [&] { return Infer(name, version); });
    return {404, RestError(absl::StrCat("no endpoint /v2/models/", rest))};
  }

  Reply Infer(const std::string& name, const std::string& version) {
    AuditedCall call{"POST /v2/models/infer"};
    absl::StatusOr<rpc::Caller> caller = Authorize();
    if (!caller.ok()) {
      AuditClassification(*p_.audit, call, caller.status(), {});
      return ErrorReply(caller.status());
    }
    call.caller = caller->name;
    std::optional<size_t> json_length;
    if (const std::string header = Header(c_, "Inference-Header-Content-Length"); !header.empty()) {
      size_t n;
      if (!absl::SimpleAtoi(header, &n)) {
        const absl::Status bad = absl::InvalidArgumentError("Inference-Header-Content-Length is not a byte count");
        AuditClassification(*p_.audit, call, bad, {});
        return ErrorReply(bad);
      }
      json_length = n;
    }
    absl::StatusOr<std::string> body = ReadBody(c_, p_.max_body_bytes);
    absl::StatusOr<RestInferRequest> request =
        body.ok() ? ParseRestInferRequest(*body, json_length, name, version) : absl::StatusOr<RestInferRequest>(body.status());
    if (!request.ok()) {
      AuditClassification(*p_.audit, call, request.status(), {});
      return body.ok() ? ErrorReply(request.status()) : BodyError(body.status());
    }
    std::promise<absl::StatusOr<inference::ModelInferResponse>> answer;
    p_.model->Infer(request->request, call, Clock::now() + kRequestDeadline, nullptr,
                    [&answer](absl::StatusOr<inference::ModelInferResponse> r) { answer.set_value(std::move(r)); });
    absl::StatusOr<inference::ModelInferResponse> response = answer.get_future().get();
    if (!response.ok()) return ErrorReply(response.status());
    RestReply reply = RestInferResponse(*response, *request);
    Reply r{200, std::move(reply.body)};
    r.json_length = reply.json_length;
    if (r.json_length) r.content_type = "application/octet-stream";
    return r;
  }

  absl::StatusOr<v1::ClassifyRequest> ReadClassifyRequest() {
    const std::string type = absl::AsciiStrToLower(Header(c_, "Content-Type"));
    v1::ClassifyRequest request;
    if (absl::StartsWith(type, "multipart/form-data")) {
      if (info_->content_length > p_.max_body_bytes) return ReadBody(c_, p_.max_body_bytes).status();
      Form form;
      form.limit = p_.max_body_bytes;
      mg_form_data_handler handler{FormFieldFound, FormFieldGet, nullptr, &form};
      const int fields = mg_handle_form_request(c_, &handler);
      if (form.too_large) return absl::ResourceExhaustedError(absl::StrCat("the body exceeds the limit of ", p_.max_body_bytes, " bytes"));
      if (fields < 0) return absl::InvalidArgumentError("the multipart body does not parse");
      if (form.image.empty()) return absl::InvalidArgumentError("the multipart body has no \"image\" file field");
      request.mutable_image()->set_encoded(std::move(form.image));
      request.set_adapter(form.adapter);
      request.set_request_id(form.request_id);
      return request;
    }
    if (!absl::StartsWith(type, "application/json")) {
      return absl::InvalidArgumentError(
          absl::StrCat("Content-Type \"", type, "\" is not application/json or multipart/form-data"));
    }
    absl::StatusOr<std::string> body = ReadBody(c_, p_.max_body_bytes);
    if (!body.ok()) return body.status();
    const nlohmann::json root = nlohmann::json::parse(*body, nullptr, false);
    if (root.is_discarded() || !root.is_object()) return absl::InvalidArgumentError("the body is not a JSON object");
    for (const char* key : {"image_base64", "dicom_base64", "adapter", "request_id"}) {
      if (root.contains(key) && !root[key].is_string()) return absl::InvalidArgumentError(absl::StrCat(key, " must be a string"));
    }
    if (root.contains("frame") && !root["frame"].is_number_integer()) return absl::InvalidArgumentError("frame must be an integer");
    const bool dicom = root.contains("dicom_base64");
    if (dicom == root.contains("image_base64")) {
      return absl::InvalidArgumentError("set exactly one of image_base64 and dicom_base64");
    }
    const char* key = dicom ? "dicom_base64" : "image_base64";
    std::string image;
    if (!absl::Base64Unescape(root[key].get<std::string>(), &image)) {
      return absl::InvalidArgumentError(absl::StrCat(key, " is not valid base64"));
    }
    if (dicom) {
      request.mutable_image()->set_dicom(std::move(image));
    } else {
      request.mutable_image()->set_encoded(std::move(image));
    }
    if (root.contains("frame")) {
      const int64_t frame = root["frame"].get<int64_t>();
      if (frame < 0 || frame > INT32_MAX) return absl::InvalidArgumentError("frame must be in 0..2147483647");
      request.mutable_image()->set_frame(static_cast<int32_t>(frame));
    }
    if (root.contains("adapter")) request.set_adapter(root["adapter"].get<std::string>());
    if (root.contains("request_id")) request.set_request_id(root["request_id"].get<std::string>());
    return request;
  }

  Reply Classify() {
    AuditedCall call{"POST /v1/classify"};
    absl::StatusOr<rpc::Caller> caller = Authorize();
    if (!caller.ok()) {
      AuditClassification(*p_.audit, call, caller.status(), {});
      return ErrorReply(caller.status());
    }
    call.caller = caller->name;
    absl::StatusOr<v1::ClassifyRequest> request = ReadClassifyRequest();
    if (!request.ok()) {
      AuditClassification(*p_.audit, call, request.status(), {});
      return BodyError(request.status());
    }
    call.request_id = request->request_id();
    call.adapter = request->adapter();
    std::promise<absl::StatusOr<v1::ClassifyResponse>> answer;
    const int64_t bytes = p_.pipeline->RequestBytes(*request);
    p_.pipeline->Submit(*std::move(request), bytes, Clock::now() + kRequestDeadline, nullptr,
                        [&answer](absl::StatusOr<v1::ClassifyResponse> r) { answer.set_value(std::move(r)); });
    absl::StatusOr<v1::ClassifyResponse> response = answer.get_future().get();
    AuditClassification(*p_.audit, call, response.status(),
                        response.ok() ? std::vector<v1::ClassifyResponse>{*response} : std::vector<v1::ClassifyResponse>{});
    if (!response.ok()) return ErrorReply(response.status());
    return {200, ClassifyResponseJson(*response)};
  }

  mg_connection* const c_;
  const HttpEndpoint::Parts& p_;
  const mg_request_info* const info_;
};
}  // namespace

int HttpEndpoint::Handle(mg_connection* connection, void* self) {
  Send(connection, Exchange(connection, static_cast<HttpEndpoint*>(self)->p_).Route());
  return 1;  // handled; civetweb keeps the connection alive when the client asked for it
}

int HttpEndpoint::InitTls(void* ssl_context, void* self) {
  const rpc::TlsFiles& tls = static_cast<HttpEndpoint*>(self)->tls_;
  auto* ctx = static_cast<SSL_CTX*>(ssl_context);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, tls.key.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    LogError("HTTP TLS: certificate or key refused", {{"cert", tls.cert}, {"key", tls.key}});
    return -1;
  }
  if (!tls.ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, tls.ca.c_str(), nullptr) != 1) {
      LogError("HTTP TLS: client CA refused", {{"client_ca", tls.ca}});
      return -1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return 1;  // the context is set up; civetweb adds nothing
}

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const std::string& address, const rpc::TlsFiles& tls,
                                                                  Parts parts) {
  const bool use_tls = !tls.cert.empty();
  mg_init_library(use_tls ? MG_FEATURES_TLS : 0);
  if (use_tls && !mg_check_feature(MG_FEATURES_TLS)) {
    return absl::FailedPreconditionError("TLS is configured but this civetweb has no TLS support");
  }
  std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint(parts, tls));
  const std::string ports = use_tls ? address + "s" : address;
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "16", "enable_keep_alive", "yes",
                           "request_timeout_ms", "120000", nullptr};
  mg_callbacks callbacks{};
  if (use_tls) callbacks.init_ssl = &HttpEndpoint::InitTls;
  endpoint->context_ = mg_start(&callbacks, endpoint.get(), options);
  if (endpoint->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve HTTP on ", address,
                                               " (address in use, not an address of this host, or TLS files refused)"));
  }
  mg_set_request_handler(endpoint->context_, "/", &HttpEndpoint::Handle, endpoint.get());
  mg_server_port port{};
  if (mg_get_server_ports(endpoint->context_, 1, &port) < 1) return absl::InternalError("civetweb reports no HTTP port");
  endpoint->port_ = port.port;
  LogInfo("HTTP endpoint", {{"address", address}, {"port", endpoint->port_}, {"tls", use_tls}});
  return endpoint;
}

void HttpEndpoint::Stop() {
  if (context_ == nullptr) return;
  mg_stop(context_);
  context_ = nullptr;
}

HttpEndpoint::~HttpEndpoint() { Stop(); }

}  // namespace medgemma::server
