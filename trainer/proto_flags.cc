#include "trainer/proto_flags.h"

#include <absl/strings/ascii.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_replace.h>
#include <absl/strings/str_split.h>

#include <map>

#include "base/status_macros.h"
#include "medgemma/v1/trainer.pb.h"
#include "trainer/proto_text.h"

namespace medgemma::trainer {
namespace {
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;

std::string FlagName(const FieldDescriptor* field) {
  const std::string& named = field->options().GetExtension(v1::flag);
  return named.empty() ? absl::StrReplaceAll(field->name(), {{"_", "-"}}) : named;
}

std::string Metavar(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return "X";
    case FieldDescriptor::CPPTYPE_STRING:
      return absl::AsciiStrToUpper(field->name());
    case FieldDescriptor::CPPTYPE_ENUM:
      return "VALUE";
    default:
      return "N";
  }
}
}  // namespace

bool MessageFlags::Flag::is_bool() const {
  return path.back()->cpp_type() == FieldDescriptor::CPPTYPE_BOOL && !path.back()->is_repeated();
}

void MessageFlags::Collect(const Descriptor* type, const std::vector<const FieldDescriptor*>& prefix,
                           const std::set<std::string>& skip) {
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (prefix.empty() && skip.count(field->name())) continue;
    std::vector<const FieldDescriptor*> path = prefix;
    path.push_back(field);
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field->is_repeated()) {
      Collect(field->message_type(), path, skip);
      continue;
    }
    Flag flag{{FlagName(field)}, path};
    const std::string& alias = field->options().GetExtension(v1::flag_alias);
    if (!alias.empty()) flag.names.push_back(alias);
    flags_.push_back(std::move(flag));
  }
}

absl::StatusOr<MessageFlags> MessageFlags::For(const Descriptor* type, const std::set<std::string>& skip) {
  MessageFlags out;
  out.Collect(type, {}, skip);
  std::map<std::string, std::string> owner;
  for (const Flag& flag : out.flags_) {
    for (const std::string& name : flag.names) {
      for (const std::string& spelling : {name, "no-" + name}) {
        if (spelling != name && !flag.is_bool()) continue;
        auto [it, fresh] = owner.emplace(spelling, flag.path.back()->full_name());
        if (!fresh) {
          return absl::InternalError(absl::StrCat("flag --", spelling, " would set both ", it->second, " and ",
                                                  flag.path.back()->full_name()));
        }
      }
    }
  }
  return out;
}

std::vector<medgemma::Flag> MessageFlags::Flags() const {
  std::vector<medgemma::Flag> out;
  for (const Flag& flag : flags_) {
    const FieldDescriptor* field = flag.path.back();
    std::vector<std::string> path_names;
    for (const FieldDescriptor* step : flag.path) path_names.push_back(step->name());
    std::string help = absl::StrCat("sets ", flag.path.front()->containing_type()->name(), ".",
                                    absl::StrJoin(path_names, "."));
    if (field->is_repeated()) absl::StrAppend(&help, " (repeatable)");
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      absl::StrAppend(&help, "  [", EnumChoices(field->enum_type()), "]");
    }
    const std::string value = flag.is_bool() ? "" : Metavar(field);
    for (const std::string& name : flag.names) {
      out.push_back({name, value, name == flag.names[0] ? help : absl::StrCat("same as --", flag.names[0])});
      if (flag.is_bool()) out.push_back({"no-" + name, "", absl::StrCat("--", flag.names[0], "=false")});
    }
  }
  return out;
}

absl::Status MessageFlags::Fill(const Args& args, Message* message) const {
  std::vector<std::pair<const OneofDescriptor*, std::string>> chosen;
  for (const Flag& flag : flags_) MG_RETURN_IF_ERROR(Set(flag, args, message, &chosen));
  return absl::OkStatus();
}

absl::Status MessageFlags::Set(const Flag& flag, const Args& args, Message* message,
                               std::vector<std::pair<const OneofDescriptor*, std::string>>* chosen) const {
  struct Given {
    std::string spelling;
    bool negated;
  };
  std::vector<Given> given;
  for (const std::string& name : flag.names) {
    if (args.Has(name)) given.push_back({name, false});
    if (flag.is_bool() && args.Has("no-" + name)) given.push_back({"no-" + name, true});
  }
  if (given.empty()) return absl::OkStatus();
  if (given.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", given[0].spelling, " and --", given[1].spelling, " set the same field"));
  }
  const std::string& spelling = given[0].spelling;
  Message* target = message;
  for (const FieldDescriptor* field : flag.path) {
    if (const OneofDescriptor* oneof = field->containing_oneof()) {
      const FieldDescriptor* set = target->GetReflection()->GetOneofFieldDescriptor(*target, oneof);
      for (const auto& [other, other_flag] : *chosen) {
        if (other == oneof && set != nullptr && set != field) {
          return absl::InvalidArgumentError(absl::StrCat("--", other_flag, " and --", spelling, " pick different ",
                                                         oneof->name(), " choices; give flags of one"));
        }
      }
      chosen->emplace_back(oneof, spelling);
    }
    if (field != flag.path.back()) target = target->GetReflection()->MutableMessage(target, field);
  }
  const FieldDescriptor* field = flag.path.back();
  const std::string where = absl::StrCat("--", spelling);
  if (flag.is_bool()) {
    bool value = false;
    if (!absl::SimpleAtob(args.Get(spelling), &value)) {
      return absl::InvalidArgumentError(absl::StrCat(where, " takes no value, or =true / =false"));
    }
    return SetFieldFromText(target, field, value != given[0].negated ? "true" : "false", where);
  }
  if (!field->is_repeated()) return SetFieldFromText(target, field, args.Get(spelling), where);
  for (const std::string& value : args.GetAll(spelling)) {
    for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
      MG_RETURN_IF_ERROR(SetFieldFromText(target, field, part, where));
    }
  }
  return absl::OkStatus();
}

}  // namespace medgemma::trainer
