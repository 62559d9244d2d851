// Command-line flags: `--name value`, `--name=value`, switches (`--flag`), and positional
// arguments (everything after `--` is positional). Every binary, and every medgemma-cli command, declares its flags once, each with a
// one-line help text, in a FlagSet; --help and --version work everywhere. Unknown flags are errors
// that name the flag.
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

#include <map>
#include <string>
#include <vector>

namespace medgemma {

struct Flag {
  std::string name;   // without the leading "--"
  std::string value;  // the value's placeholder in help ("DIR", "N"); empty: a switch without value
  std::string help;   // one line
};

class FlagSet {
 public:
  // `usage`: the command and its synopsis, e.g. "medgemma-cli classify --model DIR [flags] FILE|DIR...";
  // its first word names the program in --version.
  FlagSet(std::string usage, std::vector<Flag> flags) : usage_(std::move(usage)), flags_(std::move(flags)) {}
  // Appends a shared group of flags (model flags, connection flags, ...).
  FlagSet& Add(const std::vector<Flag>& more);

  const Flag* Find(absl::string_view name) const;
  // The usage line and one line per flag: what --help prints.
  std::string Help() const;
  absl::string_view program() const;

 private:
  std::string usage_;
  std::vector<Flag> flags_;
};

class Args {
 public:
  // --help (or -h) and --version anywhere end parsing with a status for which IsHelpOrVersion holds;
  // its message is the text to print.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv, const FlagSet& flags);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  // The last value given for `name`; GetAll returns every value of a repeated flag, in order.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& name) const;
  absl::StatusOr<std::string> Require(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t fallback) const;
  absl::StatusOr<double> GetDouble(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> all_values_;
  std::vector<std::string> positional_;
};

// True for Parse's answer to --help and --version: not a failure, but text for stdout.
bool IsHelpOrVersion(const absl::Status& status);
// What a main returns when parsing (or loading its configuration) did not succeed: the --help or
// --version text on stdout and 0; otherwise "program: error" on stderr and 2.
int ExitForUnparsedArgs(absl::string_view program, const absl::Status& status);

}  // namespace medgemma
