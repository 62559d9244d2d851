// medgemma-cli subcommands that talk to a running medgemma-server.
#pragma once

#include <absl/status/status.h>

#include <string>
#include <vector>

namespace medgemma::cli {

// classify --server HOST:PORT [--adapter NAME] [--json] [--token-file F] [--tls-ca F] FILE|DIR...
absl::Status ClassifyRemote(const std::vector<std::string>& argv);
// adapters list|load NAME PATH [--default]|unload NAME|set-default [NAME] --server HOST:PORT ...
absl::Status Adapters(const std::vector<std::string>& argv);

}  // namespace medgemma::cli
