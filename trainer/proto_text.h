// Protobuf fields from text, wherever a person writes a fine-tune request: medgemma-cli flags and
// the trainer's YAML. Unknown keys and values are INVALID_ARGUMENT errors that name the field and
// what it accepts.
#pragma once

#include <absl/status/status.h>
#include <absl/strings/string_view.h>
#include <google/protobuf/message.h>

#include <string>

namespace YAML {
class Node;
}

namespace medgemma::trainer {

// Sets one value of `field` (appends it, for a repeated field). Enums take a value's name or its
// (value_alias), in any case. `where` names the field in errors, e.g. "--loss" or "defaults.loss".
absl::Status SetFieldFromText(google::protobuf::Message* message, const google::protobuf::FieldDescriptor* field,
                              absl::string_view text, absl::string_view where);

// An enum's accepted spellings for errors and help: "FULL_SEQUENCE (full), ANSWER_ONLY (answer)".
std::string EnumChoices(const google::protobuf::EnumDescriptor* type);

// Fills `message` from a YAML mapping of its field names (nested mappings for message fields,
// sequences or single values for repeated ones). `where` names the mapping in errors.
absl::Status MessageFromYaml(const YAML::Node& node, absl::string_view where, google::protobuf::Message* message);

}  // namespace medgemma::trainer
