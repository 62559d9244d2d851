// SHA-256, for content-addressed adapter versions (OpenSSL's libcrypto does the hashing).
#pragma once

#include <string>
#include <string_view>

namespace medgemma {

// Lower-case hex digest of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace medgemma
