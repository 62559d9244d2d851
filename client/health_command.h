// medgemma-cli health: the standard grpc.health.v1 check against either service, for container
// health checks and exec probes (exit 0 only when SERVING).
#pragma once

#include <absl/status/status.h>

#include <string>
#include <vector>

namespace medgemma::cli {

// health --server HOST:PORT [--service NAME] [--timeout-seconds N] [--tls-ca F ...]
absl::Status Health(const std::vector<std::string>& argv);

}  // namespace medgemma::cli
