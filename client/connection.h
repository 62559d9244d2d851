// How medgemma-cli reaches a service: the address flag, TLS files and a bearer token from
// --token-file or $MEDGEMMA_TOKEN (never from the command line itself).
#pragma once

#include <absl/status/statusor.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "base/flags.h"

namespace medgemma::cli {

// The flags Connect reads, with `address_flag` (e.g. "server", "trainer") among them.
std::vector<Flag> ConnectionFlags(const std::string& address_flag);

struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::string token;

  void Authorize(grpc::ClientContext* context) const {
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  }
};

absl::StatusOr<Connection> Connect(const Args& args, const std::string& address_flag);

// A one-line progress bar on stderr: [#####     ] done/total, plus `suffix`.
void DrawProgress(size_t done, size_t total, const std::string& suffix = "");

}  // namespace medgemma::cli
