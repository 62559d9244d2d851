// Bearer tokens with names (rpc/auth.h): the caller's identity for the audit log is the entry's
// name, never its token; unnamed entries get a name from their role and line; the header is read
// as HTTP allows (scheme in any case, whitespace around).
#include <gtest/gtest.h>

#include "rpc/auth.h"

namespace medgemma::rpc {
namespace {

TEST(TokenNamesTest, NamedAndUnnamedEntries) {
  auto auth = TokenAuthorizer::Parse("classify pacs-router secret-token-1\n# comment\nadmin secret-token-2\n");
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto caller = auth->Authorize("Bearer secret-token-1", Role::kClassify);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->name, "pacs-router");
  caller = auth->Authorize("  bearer   secret-token-2 ", Role::kAdmin);
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->name, "admin-token-3");
  EXPECT_EQ(auth->Authorize("Bearer secret-token-1", Role::kAdmin).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth->Authorize("", Role::kClassify).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth->Authorize("Basic abc", Role::kClassify).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth->Authorize("Bearer", Role::kClassify).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(TokenNamesTest, BadNamesAreRefusedWithoutEchoingTheToken) {
  auto auth = TokenAuthorizer::Parse("classify bad/name secret-token-3");
  ASSERT_FALSE(auth.ok());
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(auth.status().message().find("secret-token-3"), std::string::npos);
}

TEST(TokenNamesTest, AuthOffIsAnonymous) {
  auto caller = TokenAuthorizer::Disabled().Authorize("", Role::kAdmin);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->name, "anonymous");
}

}  // namespace
}  // namespace medgemma::rpc
