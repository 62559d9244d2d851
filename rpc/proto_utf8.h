// Makes every string field of a message (nested and repeated ones included) valid UTF-8, so a
// message carrying outside text (a file name in an error, say) always serializes and parses.
#pragma once

#include <google/protobuf/message.h>

namespace medgemma::rpc {

void MakeStringsValidUtf8(google::protobuf::Message* message);

}  // namespace medgemma::rpc
