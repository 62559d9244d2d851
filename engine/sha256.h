// SHA-256, for content-addressed adapter versions (no crypto library is among our dependencies).
#pragma once

#include <string>
#include <string_view>

namespace medgemma {

std::string Sha256Hex(std::string_view data);

}  // namespace medgemma
