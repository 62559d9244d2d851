// Server and channel credentials from PEM files: plaintext when no certificate is configured, TLS
// with one, mutual TLS when a client CA is given too.
#pragma once

#include <absl/status/statusor.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

namespace medgemma::rpc {

struct TlsFiles {
  std::string cert, key;  // server: its own; client: for mTLS
  std::string ca;         // server: CA of client certs (enables mTLS); client: CA of the server
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& files);
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const TlsFiles& files);

// A client's bearer token: the trimmed contents of `file` when given, else $`env_var`, else "".
absl::StatusOr<std::string> ReadBearerToken(const std::string& file, const std::string& env_var);

}  // namespace medgemma::rpc
