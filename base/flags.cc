#include "base/flags.h"

#include <absl/strings/cord.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <iostream>

#include "base/version.h"

namespace medgemma {
namespace {

// Marks the statuses that carry --help / --version text rather than an error.
constexpr absl::string_view kStdoutPayload = "medgemma.flags/stdout";

absl::Status StdoutText(std::string text) {
  absl::Status status = absl::CancelledError(std::move(text));
  status.SetPayload(kStdoutPayload, absl::Cord("1"));
  return status;
}

const std::vector<Flag>& BuiltinFlags() {
  static const std::vector<Flag> builtins = {{"help", "", "print this help and exit"},
                                             {"version", "", "print the version and exit"}};
  return builtins;
}

std::string FlagColumn(const Flag& flag) {
  return flag.value.empty() ? absl::StrCat("--", flag.name) : absl::StrCat("--", flag.name, " ", flag.value);
}

}  // namespace

FlagSet& FlagSet::Add(const std::vector<Flag>& more) {
  flags_.insert(flags_.end(), more.begin(), more.end());
  return *this;
}

const Flag* FlagSet::Find(absl::string_view name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

absl::string_view FlagSet::program() const {
  const absl::string_view usage = usage_;
  return usage.substr(0, usage.find(' '));
}

std::string FlagSet::Help() const {
  size_t width = 0;
  for (const auto* group : {&flags_, &BuiltinFlags()}) {
    for (const Flag& flag : *group) width = std::max(width, FlagColumn(flag).size());
  }
  std::string help = absl::StrCat("usage: ", usage_, "\n\nflags:\n");
  for (const auto* group : {&flags_, &BuiltinFlags()}) {
    for (const Flag& flag : *group) {
      const std::string column = FlagColumn(flag);
      absl::StrAppend(&help, "  ", column, std::string(width - column.size() + 2, ' '), flag.help, "\n");
    }
  }
  return help;
}

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv, const FlagSet& flags) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--help" || arg == "-h") return StdoutText(flags.Help());
    if (arg == "--version") return StdoutText(VersionText(flags.program()) + "\n");
    if (arg == "--") {  // the rest is positional, dashes and all
      args.positional_.insert(args.positional_.end(), argv.begin() + i + 1, argv.end());
      break;
    }
    if (arg.rfind("--", 0) != 0) {
      args.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Flag* flag = flags.Find(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (flag->value.empty()) {
      args.values_[name] = inline_value ? value : "true";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argv.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    args.values_[name] = value;
    args.all_values_[name].push_back(value);
  }
  return args;
}

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  auto it = all_values_.find(name);
  return it == all_values_.end() ? std::vector<std::string>() : it->second;
}

absl::StatusOr<std::string> Args::Require(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
  }
  return it->second;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(it->second, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be an integer, got '", it->second, "'"));
  }
  return value;
}

absl::StatusOr<double> Args::GetDouble(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  double value = 0;
  if (!absl::SimpleAtod(it->second, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " must be a number, got '", it->second, "'"));
  }
  return value;
}

bool IsHelpOrVersion(const absl::Status& status) { return status.GetPayload(kStdoutPayload).has_value(); }

int ExitForUnparsedArgs(absl::string_view program, const absl::Status& status) {
  if (IsHelpOrVersion(status)) {
    std::cout << status.message() << std::flush;
    return 0;
  }
  std::cerr << program << ": " << status.message() << "\n";
  return 2;
}

}  // namespace medgemma
