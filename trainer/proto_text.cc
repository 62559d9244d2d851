#include "trainer/proto_text.h"

#include <absl/strings/match.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <yaml-cpp/yaml.h>

#include <vector>

#include "base/status_macros.h"
#include "medgemma/v1/trainer.pb.h"

namespace medgemma::trainer {
namespace {
using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status BadValue(absl::string_view where, absl::string_view text, absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": '", text, "' is not ", expected));
}

const EnumValueDescriptor* FindEnumValue(const google::protobuf::EnumDescriptor* type, absl::string_view text) {
  for (int i = 0; i < type->value_count(); ++i) {
    const EnumValueDescriptor* v = type->value(i);
    const std::string& alias = v->options().GetExtension(v1::value_alias);
    if (absl::EqualsIgnoreCase(v->name(), text) || (!alias.empty() && absl::EqualsIgnoreCase(alias, text))) return v;
  }
  return nullptr;
}

// Parses `text` as T with `parse` and stores it through the setter or adder `field` needs.
template <typename T, typename Parse, typename Set, typename Add>
absl::Status Store(Message* m, const FieldDescriptor* f, absl::string_view text, absl::string_view where,
                   absl::string_view expected, Parse parse, Set set, Add add) {
  T value{};
  if (!parse(text, &value)) return BadValue(where, text, expected);
  const Reflection* r = m->GetReflection();
  if (f->is_repeated()) {
    (r->*add)(m, f, value);
  } else {
    (r->*set)(m, f, value);
  }
  return absl::OkStatus();
}

std::string FieldNames(const Descriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->field_count(); ++i) names.push_back(type->field(i)->name());
  return absl::StrJoin(names, ", ");
}

absl::Status ScalarsFromYaml(const YAML::Node& node, const std::string& where, Message* message,
                             const FieldDescriptor* field) {
  if (node.IsScalar()) return SetFieldFromText(message, field, node.Scalar(), where);
  if (!node.IsSequence() || !field->is_repeated()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " needs ", field->is_repeated() ? "a list" : "one value"));
  }
  for (const YAML::Node& item : node) {
    if (!item.IsScalar()) return absl::InvalidArgumentError(absl::StrCat(where, " needs a list of plain values"));
    MG_RETURN_IF_ERROR(SetFieldFromText(message, field, item.Scalar(), where));
  }
  return absl::OkStatus();
}
}  // namespace

std::string EnumChoices(const google::protobuf::EnumDescriptor* type) {
  std::vector<std::string> choices;
  for (int i = 0; i < type->value_count(); ++i) {
    const std::string& alias = type->value(i)->options().GetExtension(v1::value_alias);
    choices.push_back(alias.empty() ? type->value(i)->name() : absl::StrCat(type->value(i)->name(), " (", alias, ")"));
  }
  return absl::StrJoin(choices, ", ");
}

absl::Status SetFieldFromText(Message* m, const FieldDescriptor* f, absl::string_view text, absl::string_view where) {
  const auto parse_float = [](absl::string_view t, float* v) { return absl::SimpleAtof(t, v); };
  const auto parse_double = [](absl::string_view t, double* v) { return absl::SimpleAtod(t, v); };
  const auto parse_int32 = [](absl::string_view t, int32_t* v) { return absl::SimpleAtoi(t, v); };
  const auto parse_int64 = [](absl::string_view t, int64_t* v) { return absl::SimpleAtoi(t, v); };
  const auto parse_uint32 = [](absl::string_view t, uint32_t* v) { return absl::SimpleAtoi(t, v); };
  const auto parse_uint64 = [](absl::string_view t, uint64_t* v) { return absl::SimpleAtoi(t, v); };
  const auto parse_bool = [](absl::string_view t, bool* v) { return absl::SimpleAtob(t, v); };
  const auto parse_string = [](absl::string_view t, std::string* v) {
    *v = std::string(t);
    return true;
  };
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_FLOAT:
      return Store<float>(m, f, text, where, "a number", parse_float, &Reflection::SetFloat, &Reflection::AddFloat);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return Store<double>(m, f, text, where, "a number", parse_double, &Reflection::SetDouble, &Reflection::AddDouble);
    case FieldDescriptor::CPPTYPE_INT32:
      return Store<int32_t>(m, f, text, where, "a 32-bit integer", parse_int32, &Reflection::SetInt32,
                            &Reflection::AddInt32);
    case FieldDescriptor::CPPTYPE_INT64:
      return Store<int64_t>(m, f, text, where, "an integer", parse_int64, &Reflection::SetInt64, &Reflection::AddInt64);
    case FieldDescriptor::CPPTYPE_UINT32:
      return Store<uint32_t>(m, f, text, where, "a non-negative 32-bit integer", parse_uint32, &Reflection::SetUInt32,
                             &Reflection::AddUInt32);
    case FieldDescriptor::CPPTYPE_UINT64:
      return Store<uint64_t>(m, f, text, where, "a non-negative integer", parse_uint64, &Reflection::SetUInt64,
                             &Reflection::AddUInt64);
    case FieldDescriptor::CPPTYPE_BOOL:
      return Store<bool>(m, f, text, where, "true or false", parse_bool, &Reflection::SetBool, &Reflection::AddBool);
    case FieldDescriptor::CPPTYPE_STRING:
      return Store<std::string>(m, f, text, where, "a string", parse_string, &Reflection::SetString,
                                &Reflection::AddString);
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumValueDescriptor* value = FindEnumValue(f->enum_type(), text);
      if (value == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": unknown value '", text, "'; allowed: ", EnumChoices(f->enum_type())));
      }
      if (f->is_repeated()) {
        m->GetReflection()->AddEnum(m, f, value);
      } else {
        m->GetReflection()->SetEnum(m, f, value);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(where, " is a group of settings (", FieldNames(f->message_type()),
                                                 "), not a value"));
}

absl::Status MessageFromYaml(const YAML::Node& node, absl::string_view where, Message* message) {
  if (!node.IsMap()) return absl::InvalidArgumentError(absl::StrCat(where, " must be a mapping of field names"));
  const Descriptor* type = message->GetDescriptor();
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const std::string at = absl::StrCat(where, ".", key);
    const FieldDescriptor* field = type->FindFieldByName(key);
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unknown key '", key, "'; known: ", FieldNames(type)));
    }
    if (entry.second.IsNull()) return absl::InvalidArgumentError(absl::StrCat(at, " has no value"));
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field->is_repeated()) {
      MG_RETURN_IF_ERROR(MessageFromYaml(entry.second, at, message->GetReflection()->MutableMessage(message, field)));
    } else {
      MG_RETURN_IF_ERROR(ScalarsFromYaml(entry.second, at, message, field));
    }
  }
  return absl::OkStatus();
}

}  // namespace medgemma::trainer
