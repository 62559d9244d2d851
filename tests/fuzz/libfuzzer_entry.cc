// libFuzzer's entry point over the one target linked into the binary.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const medgemma::fuzz::TargetFn target = medgemma::fuzz::OnlyTarget();
  target(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
