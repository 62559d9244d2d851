#include "rpc/auth.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>

#include <cstdlib>

#include "base/file_util.h"
#include "base/log.h"
#include "base/status_macros.h"

namespace medgemma::rpc {
namespace {
bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}
}  // namespace

absl::StatusOr<TokenAuthorizer> TokenAuthorizer::Parse(const std::string& text) {
  TokenAuthorizer auth;
  int line_number = 0;
  for (absl::string_view raw : absl::StrSplit(text, absl::ByAnyChar("\n,"))) {
    ++line_number;
    const std::string line(absl::StripAsciiWhitespace(raw));
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> parts = absl::StrSplit(line, absl::ByAnyChar(" \t:"), absl::SkipEmpty());
    if (parts.size() != 2 || (parts[0] != "classify" && parts[0] != "admin") || parts[1].size() < 8) {
      return absl::InvalidArgumentError(absl::StrCat("token entry ", line_number,
                                                     ": expected 'classify TOKEN' or 'admin TOKEN' (token of 8+ chars)"));
    }
    auth.roles_[parts[1]] = parts[0] == "admin" ? Role::kAdmin : Role::kClassify;
  }
  return auth;
}

absl::StatusOr<TokenAuthorizer> TokenAuthorizer::Load(const std::string& file, const std::string& env_var) {
  std::string text;
  std::vector<std::string> sources;  // the configured ones, named for the error below
  if (!file.empty()) {
    MG_ASSIGN_OR_RETURN(text, ReadFileToString(file));
    sources.push_back(absl::StrCat("file ", file));
  }
  if (!env_var.empty()) {
    if (const char* value = std::getenv(env_var.c_str())) {
      absl::StrAppend(&text, "\n", value);
      sources.push_back(absl::StrCat("$", env_var));
    }
  }
  MG_ASSIGN_OR_RETURN(TokenAuthorizer auth, Parse(text));
  // Auth must never fail open: a configured source that yields no token is a mistake (an empty
  // Secret, a file of comments), not a request to run without auth.
  if (!sources.empty() && !auth.enabled()) {
    return absl::FailedPreconditionError(absl::StrCat("auth tokens are configured (", absl::StrJoin(sources, ", "),
                                                      ") but hold no token; remove the setting to run without auth"));
  }
  LogInfo("auth", {{"enabled", auth.enabled()}, {"tokens", auth.roles_.size()}, {"sources", sources}});
  if (!auth.enabled()) {
    LogWarning("AUTH IS OFF: every caller that reaches this port has the admin role",
               {{"fix", absl::StrCat("set auth.tokens_file (--auth-tokens-file) or $",
                                     env_var.empty() ? "<auth.tokens_env>" : env_var)}});
  }
  return auth;
}

grpc::Status TokenAuthorizer::Check(const grpc::ServerContextBase& context, Role needed) const {
  if (!enabled()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing 'authorization: Bearer <token>'");
  const std::string header(it->second.data(), it->second.size());
  const std::string prefix = "Bearer ";
  if (header.rfind(prefix, 0) != 0) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "authorization is not a bearer token");
  const std::string token = header.substr(prefix.size());
  for (const auto& [known, role] : roles_) {
    if (!ConstantTimeEquals(known, token)) continue;
    if (needed == Role::kAdmin && role != Role::kAdmin) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "this call needs the admin role");
    }
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown bearer token");
}

}  // namespace medgemma::rpc
