// Flag parsing: declared flags with values, switches and repeats; unknown flags named; --help and
// --version answered with text for stdout rather than an error.
#include <gtest/gtest.h>

#include "base/flags.h"

namespace medgemma {
namespace {

const FlagSet& TestFlags() {
  static const FlagSet flags =
      FlagSet("tool --in FILE [flags] ARG...", {{"in", "FILE", "input file"}, {"json", "", "print JSON"}})
          .Add({{"root", "DIR", "allowed root; repeatable"}});
  return flags;
}

TEST(FlagsTest, ValuesSwitchesRepeatsAndPositionals) {
  auto args =
      Args::Parse({"--in", "a.txt", "--json", "--root=/x", "pos", "--root", "/y", "--", "--in"}, TestFlags());
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->Get("in"), "a.txt");
  EXPECT_TRUE(args->Has("json"));
  EXPECT_EQ(args->GetAll("root"), (std::vector<std::string>{"/x", "/y"}));
  EXPECT_EQ(args->Get("root"), "/y");
  EXPECT_EQ(args->positional(), (std::vector<std::string>{"pos", "--in"}));  // "--" ends the flags
  EXPECT_EQ(args->Get("in"), "a.txt");
}

TEST(FlagsTest, BadInputIsNamed) {
  auto unknown = Args::Parse({"--frobnicate"}, TestFlags());
  ASSERT_FALSE(unknown.ok());
  EXPECT_FALSE(IsHelpOrVersion(unknown.status()));
  EXPECT_NE(unknown.status().message().find("unknown flag --frobnicate"), absl::string_view::npos);
  auto missing = Args::Parse({"--in"}, TestFlags());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--in needs a value"), absl::string_view::npos);
  auto args = Args::Parse({"--in", "x"}, TestFlags());
  ASSERT_TRUE(args.ok());
  EXPECT_FALSE(args->GetInt("in", 0).ok());
}

TEST(FlagsTest, HelpListsEveryFlagWithItsDescription) {
  auto help = Args::Parse({"--in", "x", "--help"}, TestFlags());
  ASSERT_FALSE(help.ok());
  ASSERT_TRUE(IsHelpOrVersion(help.status()));
  const std::string text(help.status().message());
  EXPECT_EQ(text.rfind("usage: tool --in FILE [flags] ARG...\n", 0), 0u) << text;
  for (const char* line : {"  --in FILE   input file\n", "  --json      print JSON\n",
                           "  --root DIR  allowed root; repeatable\n", "  --help      print this help and exit\n",
                           "  --version   print the version and exit\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "in:\n" << text;
  }
  EXPECT_TRUE(IsHelpOrVersion(Args::Parse({"-h"}, TestFlags()).status()));
}

TEST(FlagsTest, VersionNamesTheProgram) {
  auto version = Args::Parse({"--version"}, TestFlags());
  ASSERT_TRUE(IsHelpOrVersion(version.status()));
  const std::string text(version.status().message());
  EXPECT_EQ(text.rfind("tool ", 0), 0u) << text;
  EXPECT_NE(text.find("(git "), std::string::npos) << text;
  EXPECT_NE(text.find("libtorch "), std::string::npos) << text;
}

TEST(FlagsTest, HelpAndVersionExitZeroErrorsExitTwo) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(ExitForUnparsedArgs("tool", Args::Parse({"--help"}, TestFlags()).status()), 0);
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("usage: tool"), std::string::npos);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(ExitForUnparsedArgs("tool", Args::Parse({"--nope"}, TestFlags()).status()), 2);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("tool: unknown flag --nope"), std::string::npos);
}

}  // namespace
}  // namespace medgemma
