// Bearer-token authorization with two roles. Tokens come from a file or an environment variable,
// never from code or committed config: one "role token" pair per line (or comma-separated in the
// variable), role being classify or admin; admin may also classify. With no tokens configured,
// authorization is off.
#pragma once

#include <absl/status/statusor.h>
#include <grpcpp/server_context.h>

#include <string>
#include <unordered_map>

namespace medgemma::rpc {

enum class Role { kClassify, kAdmin };

class TokenAuthorizer {
 public:
  static TokenAuthorizer Disabled() { return TokenAuthorizer(); }
  // `file` and/or `env_var` (either may be empty); INVALID_ARGUMENT for malformed entries.
  static absl::StatusOr<TokenAuthorizer> Load(const std::string& file, const std::string& env_var);
  static absl::StatusOr<TokenAuthorizer> Parse(const std::string& text);

  bool enabled() const { return !roles_.empty(); }
  // UNAUTHENTICATED without a known bearer token, PERMISSION_DENIED when its role is too weak.
  grpc::Status Check(const grpc::ServerContextBase& context, Role needed) const;

 private:
  std::unordered_map<std::string, Role> roles_;
};

}  // namespace medgemma::rpc
