#include "rpc/auth.h"

#include <absl/strings/ascii.h>
#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>

#include <cstdlib>

#include "base/file_util.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "rpc/grpc_status.h"

namespace medgemma::rpc {
namespace {
bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool ValidName(absl::string_view name) {
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return !name.empty() && name.size() <= 64;
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
    if ((parts.size() != 2 && parts.size() != 3) || (parts[0] != "classify" && parts[0] != "admin") ||
        parts.back().size() < 8 || (parts.size() == 3 && !ValidName(parts[1]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token entry ", line_number,
          ": expected 'ROLE TOKEN' or 'ROLE NAME TOKEN', ROLE classify or admin, NAME of letters, digits, '.', '_', "
          "'-', TOKEN of 8+ chars"));
    }
    std::string name = parts.size() == 3 ? parts[1] : absl::StrCat(parts[0], "-token-", line_number);
    auth.roles_[parts.back()] = {parts[0] == "admin" ? Role::kAdmin : Role::kClassify, std::move(name)};
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

absl::StatusOr<Caller> TokenAuthorizer::Authorize(absl::string_view authorization, Role needed) const {
  if (!enabled()) return Caller{"anonymous"};
  if (authorization.empty()) return absl::UnauthenticatedError("missing 'authorization: Bearer <token>'");
  // The scheme is case-insensitive and HTTP allows whitespace around the value (RFC 9110).
  const absl::string_view header = absl::StripAsciiWhitespace(authorization);
  constexpr absl::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size() || !absl::EqualsIgnoreCase(header.substr(0, kScheme.size()), kScheme)) {
    return absl::UnauthenticatedError("authorization is not a bearer token");
  }
  const std::string token(absl::StripLeadingAsciiWhitespace(header.substr(kScheme.size())));
  for (const auto& [known, grant] : roles_) {
    if (!ConstantTimeEquals(known, token)) continue;
    if (needed == Role::kAdmin && grant.role != Role::kAdmin) {
      return absl::PermissionDeniedError("this call needs the admin role");
    }
    return Caller{grant.name};
  }
  return absl::UnauthenticatedError("unknown bearer token");
}

absl::StatusOr<Caller> TokenAuthorizer::Authorize(const grpc::ServerContextBase& context, Role needed) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  return Authorize(it == metadata.end() ? absl::string_view() : absl::string_view(it->second.data(), it->second.size()),
                   needed);
}

grpc::Status TokenAuthorizer::Check(const grpc::ServerContextBase& context, Role needed) const {
  return ToGrpcStatus(Authorize(context, needed).status());
}

}  // namespace medgemma::rpc
