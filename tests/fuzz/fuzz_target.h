// A fuzz target is registered by name, so one source builds both into its own libFuzzer binary
// (the `fuzz` CMake preset, clang) and into fuzz_replay (every build), which replays the committed
// seed corpora and crash regressions through ctest with whatever compiler and sanitizer the build
// uses. A new target (DICOM, say) is one source with MEDGEMMA_FUZZ_TARGET(dicom) { ... }, one
// medgemma_add_fuzzer(dicom ...) line in tests/fuzz/CMakeLists.txt and seeds in corpus/dicom/.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace medgemma::fuzz {

using TargetFn = void (*)(std::string_view data);

bool RegisterTarget(const char* name, TargetFn fn);
// nullptr when no target has that name.
TargetFn FindTarget(std::string_view name);
// The one target linked into this binary (a libFuzzer binary holds exactly one).
TargetFn OnlyTarget();

}  // namespace medgemma::fuzz

#define MEDGEMMA_FUZZ_TARGET(name)                                                                     \
  static void MedgemmaFuzz_##name(std::string_view data);                                             \
  [[maybe_unused]] static const bool medgemma_fuzz_registered_##name =                                 \
      ::medgemma::fuzz::RegisterTarget(#name, MedgemmaFuzz_##name);                                    \
  static void MedgemmaFuzz_##name(std::string_view data)

// An invariant the code under test promised; breaking it is a finding, so it aborts like a crash.
#define MEDGEMMA_FUZZ_CHECK(cond)                                                                      \
  do {                                                                                                 \
    if (!(cond)) {                                                                                     \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
      std::abort();                                                                                    \
    }                                                                                                  \
  } while (0)
