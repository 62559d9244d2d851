#include "engine/speedup_switches.h"

#include <cstdlib>
#include <string>

namespace medgemma {
namespace {
bool On(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr || std::string(value) != "0";
}
}  // namespace

bool FusedKernelsEnabled() {
  static const bool on = On("MEDGEMMA_FUSED_KERNELS");
  return on;
}

}  // namespace medgemma
