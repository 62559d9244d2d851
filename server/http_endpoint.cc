#include "server/http_endpoint.h"

#include <absl/strings/ascii.h>
#include <absl/strings/escaping.h>
#include <absl/strings/match.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <civetweb.h>
#include <google/protobuf/util/json_util.h>
#include <dlfcn.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "base/log.h"
#include "engine/bounded_json.h"
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

// Through civetweb's response API, so that it knows the status. `close`: the request's body was not
// read (an early 401/413): the connection closes after the reply instead of civetweb reading and
// discarding a body of any declared length for keep-alive.
void Send(mg_connection* c, const Reply& r, bool close) {
  mg_response_header_start(c, r.status);
  mg_response_header_add(c, "Content-Type", r.content_type.c_str(), -1);
  mg_response_header_add(c, "Content-Length", std::to_string(r.body.size()).c_str(), -1);
  if (r.json_length) mg_response_header_add(c, "Inference-Header-Content-Length", std::to_string(*r.json_length).c_str(), -1);
  if (r.status == 401) mg_response_header_add(c, "WWW-Authenticate", "Bearer", -1);  // RFC 6750 3
  if (r.status == 429 || r.status == 503) mg_response_header_add(c, "Retry-After", "1", -1);
  if (close) mg_response_header_add(c, "Connection", "close", -1);
  mg_response_header_send(c);
  mg_write(c, r.body.data(), r.body.size());
  // civetweb 1.15 has no call that closes a server connection; its error reply sets the close flag
  // first, and with this response already sent (and 304 having no body) it writes nothing more.
  if (close) mg_send_http_error(c, 304, "%s", "");
}

// The body, whole, or 413 past `limit` (Content-Length checked before anything is read). `*read`
// says whether the body was read to its end.
absl::StatusOr<std::string> ReadBody(mg_connection* c, int64_t limit, bool* read) {
  const mg_request_info* info = mg_get_request_info(c);
  if (info->content_length > limit) {
    return absl::ResourceExhaustedError(absl::StrCat("the body's ", info->content_length, " bytes exceed the limit of ", limit));
  }
  std::string body;
  char buffer[64 << 10];
  while (true) {
    const int n = mg_read(c, buffer, sizeof(buffer));
    if (n <= 0) {
      *read = true;
      break;
    }
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

// The multipart fields of /v1/classify, collected by civetweb's form parser. Every field's bytes
// count against the limit, unknown ones too (they are read and dropped, not skipped unread).
struct Form {
  std::string image, adapter, request_id;
  std::set<std::string> seen;
  std::string duplicate;
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
  if (form->current != nullptr && !form->seen.insert(name).second && form->duplicate.empty()) form->duplicate = name;
  return MG_FORM_FIELD_STORAGE_GET;
}

int FormFieldGet(const char*, const char* value, size_t length, void* user) {
  auto* form = static_cast<Form*>(user);
  form->size += static_cast<int64_t>(length);
  if (form->size > form->limit) {
    form->too_large = true;
    return MG_FORM_FIELD_HANDLE_ABORT;
  }
  if (form->current != nullptr) form->current->append(value, length);
  return MG_FORM_FIELD_HANDLE_GET;
}

std::string ClassifyResponseJson(const v1::ClassifyResponse& response) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(response, &json, options).ok()) {
    return RestError("the response does not convert to JSON");  // a message we built: not expected
  }
  return json;
}

std::string ModelConfigJson(const inference::ModelConfigResponse& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(config.config(), &json, options).ok()) {
    return RestError("the model config does not convert to JSON");
  }
  return json;
}

// One HTTP request, from routing to reply. Runs on a civetweb worker thread, which waits for
// the pipeline's answer.
class Exchange {
 public:
  Exchange(mg_connection* c, const HttpEndpoint::Parts& p) : c_(c), p_(p), info_(mg_get_request_info(c)) {}

  // Whether the request came with a body that was not read to its end.
  bool body_unread() const {
    const bool has_body = info_->content_length > 0 || !Header(c_, "Transfer-Encoding").empty();
    return has_body && !body_read_;
  }

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
    absl::StatusOr<std::string> body = ReadBody(c_, p_.max_body_bytes, &body_read_);
    absl::StatusOr<RestInferRequest> request =
        body.ok() ? ParseRestInferRequest(*body, json_length, name, version, MaxJsonValues())
                  : absl::StatusOr<RestInferRequest>(body.status());
    if (!request.ok()) {
      AuditClassification(*p_.audit, call, request.status(), {});
      return BodyError(request.status());
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
      if (info_->content_length > p_.max_body_bytes) return ReadBody(c_, p_.max_body_bytes, &body_read_).status();
      Form form;
      form.limit = p_.max_body_bytes;
      mg_form_data_handler handler{FormFieldFound, FormFieldGet, nullptr, &form};
      const int fields = mg_handle_form_request(c_, &handler);
      if (form.too_large) return absl::ResourceExhaustedError(absl::StrCat("the body exceeds the limit of ", p_.max_body_bytes, " bytes"));
      if (fields < 0) return absl::InvalidArgumentError("the multipart body does not parse");
      body_read_ = true;
      if (!form.duplicate.empty()) return absl::InvalidArgumentError(absl::StrCat("the multipart field \"", form.duplicate, "\" comes twice"));
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
    absl::StatusOr<std::string> body = ReadBody(c_, p_.max_body_bytes, &body_read_);
    if (!body.ok()) return body.status();
    absl::StatusOr<nlohmann::json> parsed = ParseBoundedJson(*body, "the body", MaxJsonValues());
    if (!parsed.ok()) return parsed.status();
    const nlohmann::json& root = *parsed;
    if (!root.is_object()) return absl::InvalidArgumentError("the body is not a JSON object");
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
    // One answer, or one per frame of a multi-frame DICOM file sent without a frame.
    struct Answers {
      std::mutex mu;
      std::vector<v1::ClassifyResponse> responses;  // failures as the stream's error responses
      absl::Status only_status;                      // the status of a lone answer
      std::promise<void> finished;
    } answers;
    const int64_t bytes = p_.pipeline->RequestBytes(*request);
    p_.pipeline->SubmitAll(
        *std::move(request), bytes, Clock::now() + kRequestDeadline, nullptr,
        [this, &answers, call](absl::StatusOr<v1::ClassifyResponse> result, const v1::DicomInstance& frame) {
          AuditClassification(*p_.audit, call, result.status(),
                              result.ok() ? std::vector<v1::ClassifyResponse>{*result} : std::vector<v1::ClassifyResponse>{});
          v1::ClassifyResponse response;
          if (result.ok()) {
            response = *std::move(result);
          } else {
            response.set_request_id(call.request_id);
            if (frame.frame() > 0) *response.mutable_dicom() = frame;
            response.mutable_error()->set_code(static_cast<int32_t>(result.status().code()));
            response.mutable_error()->set_message(std::string(result.status().message()));
          }
          std::lock_guard<std::mutex> lock(answers.mu);
          answers.only_status = result.status();
          answers.responses.push_back(std::move(response));
        },
        [&answers] { answers.finished.set_value(); });
    answers.finished.get_future().wait();
    if (answers.responses.size() == 1) {
      if (!answers.only_status.ok()) return ErrorReply(answers.only_status);
      return {200, ClassifyResponseJson(answers.responses.front())};
    }
    std::sort(answers.responses.begin(), answers.responses.end(),
              [](const v1::ClassifyResponse& a, const v1::ClassifyResponse& b) { return a.dicom().frame() < b.dicom().frame(); });
    std::string body = "{\"responses\":[";
    for (size_t i = 0; i < answers.responses.size(); ++i) {
      if (i > 0) body += ",";
      body += ClassifyResponseJson(answers.responses[i]);
    }
    body += "]}";
    return {200, std::move(body)};
  }

  // JSON bodies cost about 16 bytes a value once parsed: at most twice the body limit.
  size_t MaxJsonValues() const {
    return std::min(kMaxJsonValues, static_cast<size_t>(std::max<int64_t>(p_.max_body_bytes / 8, 1)));
  }

  mg_connection* const c_;
  const HttpEndpoint::Parts& p_;
  const mg_request_info* const info_;
  bool body_read_ = false;
};
}  // namespace

int HttpEndpoint::Handle(mg_connection* connection, void* self) {
  // Nothing may unwind into civetweb's C frames (that is std::terminate): out of memory is 503,
  // anything else 500, and the connection closes.
  Exchange exchange(connection, static_cast<HttpEndpoint*>(self)->p_);
  Reply reply;
  bool close;
  try {
    reply = exchange.Route();
    close = exchange.body_unread();
  } catch (const std::bad_alloc&) {
    reply = {503, RestError("the server has no memory for this request now; retry later")};
    close = true;
  } catch (const std::exception& e) {
    LogError("HTTP request failed with an exception", {{"what", e.what()}});
    reply = {500, RestError("internal error")};
    close = true;
  }
  try {
    Send(connection, reply, close);
  } catch (const std::exception&) {  // allocating the headers; the connection is lost either way
  }
  return reply.status;  // handled: civetweb logs the status and keeps the connection unless closed
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

namespace {
// Loads server/civetweb_openssl_shim.cc's two libraries (from lib/ beside the executable's bin/)
// before civetweb initializes TLS: without them Debian's civetweb 1.15 cannot find OpenSSL in a
// runtime image, and crashes on every HTTPS connection where it can.
absl::Status LoadCivetwebOpenSsl() {
  static const absl::Status loaded = [] {
    std::error_code ec;
    const std::filesystem::path lib = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().parent_path() / "lib";
    for (const char* name : {"libmedgemma-civetweb-libcrypto.so", "libmedgemma-civetweb-libssl.so"}) {
      if (dlopen((lib / name).c_str(), RTLD_NOW) == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat("HTTPS on the HTTP port needs ", (lib / name).string(), ": ", dlerror()));
      }
    }
    return absl::OkStatus();
  }();
  return loaded;
}
}  // namespace

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const std::string& address, const rpc::TlsFiles& tls,
                                                                  Parts parts) {
  const bool use_tls = !tls.cert.empty();
  if (use_tls) {
    if (absl::Status shim = LoadCivetwebOpenSsl(); !shim.ok()) return shim;
  }
  mg_init_library(use_tls ? MG_FEATURES_TLS : 0);
  if (use_tls && !mg_check_feature(MG_FEATURES_TLS)) {
    mg_exit_library();
    return absl::FailedPreconditionError("TLS is configured but this civetweb has no TLS support");
  }
  std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint(parts, tls));
  const std::string ports = use_tls ? address + "s" : address;
  const std::string threads = std::to_string(parts.threads);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", threads.c_str(), "enable_keep_alive", "yes",
                           "request_timeout_ms", "120000", nullptr};
  mg_callbacks callbacks{};
  if (use_tls) callbacks.init_ssl = &HttpEndpoint::InitTls;
  endpoint->context_ = mg_start(&callbacks, endpoint.get(), options);
  if (endpoint->context_ == nullptr) {
    mg_exit_library();
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
  mg_exit_library();  // one per Start's mg_init_library (a reference count)
}

HttpEndpoint::~HttpEndpoint() { Stop(); }

}  // namespace medgemma::server
