// UTF-8 hygiene for strings from the outside world (file names, messages, CSV cells) before they
// enter a proto string field or the database: proto3 refuses to parse invalid UTF-8, so one bad
// byte stored would make every later read of that record fail.
#pragma once

#include <string>
#include <string_view>

namespace medgemma {

bool IsValidUtf8(std::string_view text);
// `text` with every invalid or overlong sequence (and each surrogate) replaced by U+FFFD.
std::string ToValidUtf8(std::string_view text);

}  // namespace medgemma
