// A request message's fields as command-line flags, so medgemma-cli declares none of its own:
// field foo_bar is --foo-bar ((medgemma.v1.flag) renames it, (medgemma.v1.flag_alias) adds a
// second name), fields of nested messages are flags of their own without a prefix, bools are
// --name / --no-name, repeated fields repeat (a value holding commas is split at them), enums take
// value names. A flag of a oneof member's message picks that member; flags of two members clash.
#pragma once

#include <absl/status/statusor.h>
#include <google/protobuf/message.h>

#include <set>
#include <string>
#include <vector>

#include "base/flags.h"

namespace medgemma::trainer {

class MessageFlags {
 public:
  // `skip`: top-level fields the command does not offer. Two fields with one flag name are an error.
  static absl::StatusOr<MessageFlags> For(const google::protobuf::Descriptor* type,
                                          const std::set<std::string>& skip = {});

  // The flags with their help, for a command's FlagSet: a bool field gives --name and --no-name,
  // an alias is a flag of its own.
  std::vector<medgemma::Flag> Flags() const;
  // Sets the fields whose flags `args` holds; the others stay unset.
  absl::Status Fill(const Args& args, google::protobuf::Message* message) const;

 private:
  struct Flag {
    std::vector<std::string> names;                              // the flag, then its alias if any
    std::vector<const google::protobuf::FieldDescriptor*> path;  // from the top message to the field
    bool is_bool() const;
  };
  void Collect(const google::protobuf::Descriptor* type,
               const std::vector<const google::protobuf::FieldDescriptor*>& prefix, const std::set<std::string>& skip);
  absl::Status Set(const Flag& flag, const Args& args, google::protobuf::Message* message,
                   std::vector<std::pair<const google::protobuf::OneofDescriptor*, std::string>>* chosen) const;
  std::vector<Flag> flags_;
};

}  // namespace medgemma::trainer
