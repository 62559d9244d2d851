// The OpenAPI 3 document of the HTTP endpoint (server/http_endpoint.h), served at /openapi.json.
#pragma once

#include <string>

namespace medgemma::server {

const std::string& OpenApiDocument();

}  // namespace medgemma::server
