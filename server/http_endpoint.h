// medgemma-server's HTTP/JSON port, for integration engines and tools that speak REST:
//   GET  /v2/health/live, /v2/health/ready              (no token: probes)
//   GET  /v2, /v2/models/{m}[/versions/{v}][/ready|/config]
//   POST /v2/models/{m}[/versions/{v}]/infer            OIP REST (server/oip_rest.h)
//   POST /v1/classify                                   {"image_base64" | "dicom_base64", "frame",
//                                                       "adapter", "request_id"} as
//                                                       JSON, or multipart/form-data with a file field
//                                                       "image" (and "adapter", "request_id" fields);
//                                                       answers ClassifyResponse's fields as JSON;
//                                                       a multi-frame DICOM file without a frame:
//                                                       {"responses": [one per frame, in order]}
//   GET  /openapi.json                                  the OpenAPI document of all of these
// Requests run through the same OipModel / ClassificationPipeline as gRPC (batcher, deadlines,
// byte limits, request metrics, audit lines), under the same bearer tokens
// (Authorization: Bearer) and TLS files. Bodies above limits.max_message_bytes get 413, and JSON
// bodies of more values than an eighth of that (engine/bounded_json.h) too; errors are
// {"error": message} with the status of rpc/http_status.h (401 with WWW-Authenticate: Bearer, 429
// and 503 with Retry-After). A reply sent before the body was read (401, 413, ...) closes the
// connection, so that no worker reads a body of any declared length. No exception reaches
// civetweb: out of memory is 503, anything else 500.
//
// The server is civetweb: a maintained Debian package (libcivetweb-dev) that prometheus-cpp's
// /metrics endpoint already runs on, so it adds no dependency; it brings TLS (OpenSSL) and a
// multipart parser, and its blocking worker threads suit a handler that waits for the batcher.
#pragma once

#include <absl/status/statusor.h>

#include <memory>
#include <string>

#include "base/audit_log.h"
#include "rpc/auth.h"
#include "rpc/credentials.h"
#include "server/classification_pipeline.h"
#include "server/oip_model.h"

struct mg_context;
struct mg_connection;

namespace medgemma::server {

class HttpEndpoint {
 public:
  struct Parts {
    OipModel* model;
    ClassificationPipeline* pipeline;
    const rpc::TokenAuthorizer* auth;
    AuditLog* audit;
    int64_t max_body_bytes;
    int threads;  // civetweb's workers: one per request being answered, probes included
  };
  // UNAVAILABLE when `address` cannot be bound; INVALID_ARGUMENT for TLS files civetweb refuses.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(const std::string& address, const rpc::TlsFiles& tls,
                                                             Parts parts);
  ~HttpEndpoint();

  int port() const { return port_; }
  // Stops accepting, waits for the handlers running.
  void Stop();

  // civetweb's request callback; public for its C linkage only.
  static int Handle(mg_connection* connection, void* self);

 private:
  HttpEndpoint(Parts parts, rpc::TlsFiles tls) : p_(parts), tls_(std::move(tls)) {}
  static int InitTls(void* ssl_context, void* self);

  Parts p_;
  const rpc::TlsFiles tls_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace medgemma::server
