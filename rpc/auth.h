// Bearer-token authorization with two roles. Tokens come from a file or an environment variable,
// never from code or committed config: one "role token" or "role name token" entry per line (or
// comma-separated in the variable), role being classify or admin; admin may also classify. The
// name is who the caller is in the audit log (a token's value is never logged); an unnamed token is
// "<role>-token-<entry number>". With no tokens configured, authorization is off.
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <grpcpp/server_context.h>

#include <string>
#include <unordered_map>

namespace medgemma::rpc {

enum class Role { kClassify, kAdmin };

struct Caller {
  std::string name;  // the token's name; "anonymous" with authorization off
};

class TokenAuthorizer {
 public:
  static TokenAuthorizer Disabled() { return TokenAuthorizer(); }
  // `file` and/or `env_var` (either may be empty); INVALID_ARGUMENT for malformed entries.
  static absl::StatusOr<TokenAuthorizer> Load(const std::string& file, const std::string& env_var);
  static absl::StatusOr<TokenAuthorizer> Parse(const std::string& text);

  bool enabled() const { return !roles_.empty(); }
  // `authorization`: the header's value, empty when the request has none (HTTP and gRPC alike).
  // UNAUTHENTICATED without a known bearer token, PERMISSION_DENIED when its role is too weak.
  absl::StatusOr<Caller> Authorize(absl::string_view authorization, Role needed) const;
  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& context, Role needed) const;
  grpc::Status Check(const grpc::ServerContextBase& context, Role needed) const;

 private:
  struct Grant {
    Role role;
    std::string name;
  };
  std::unordered_map<std::string, Grant> roles_;  // by token
};

}  // namespace medgemma::rpc
