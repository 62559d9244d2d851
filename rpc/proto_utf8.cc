#include "rpc/proto_utf8.h"

#include <vector>

#include "base/utf8.h"

namespace medgemma::rpc {

void MakeStringsValidUtf8(google::protobuf::Message* message) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
          const std::string value = reflection->GetRepeatedString(*message, field, i);
          if (!IsValidUtf8(value)) reflection->SetRepeatedString(message, field, i, ToValidUtf8(value));
        }
      } else {
        const std::string value = reflection->GetString(*message, field);
        if (!IsValidUtf8(value)) reflection->SetString(message, field, ToValidUtf8(value));
      }
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      if (field->is_repeated()) {
        for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
          MakeStringsValidUtf8(reflection->MutableRepeatedMessage(message, field, i));
        }
      } else {
        MakeStringsValidUtf8(reflection->MutableMessage(message, field));
      }
    }
  }
}

}  // namespace medgemma::rpc
