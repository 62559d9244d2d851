// A bounded HTTP/1.0 GET over a plain socket, enough to scrape a Prometheus endpoint without an
// HTTP client library: non-blocking I/O, every step within one deadline, responses capped.
#pragma once

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <string>

namespace medgemma::cli {

struct HttpEndpoint {
  std::string host, port, path;
  std::string ToString() const;  // http://host:port/path
};

// The body of a 200 answer to GET `endpoint`; connecting, sending and reading all within `timeout`
// (name resolution, getaddrinfo, is not bounded by it: give an address to be sure).
// Any other status, a body shorter than its Content-Length, and chunked or compressed bodies (which
// an HTTP/1.0 request without Accept-Encoding never asks for) are errors.
absl::StatusOr<std::string> HttpGet(const HttpEndpoint& endpoint, absl::Duration timeout);

}  // namespace medgemma::cli
