#include "tests/fuzz/fuzz_target.h"

#include <map>
#include <string>

namespace medgemma::fuzz {
namespace {
// Function-local: registrations run during static initialisation, in no fixed order.
std::map<std::string, TargetFn, std::less<>>& Targets() {
  static auto* targets = new std::map<std::string, TargetFn, std::less<>>();
  return *targets;
}
}  // namespace

bool RegisterTarget(const char* name, TargetFn fn) { return Targets().emplace(name, fn).second; }

TargetFn FindTarget(std::string_view name) {
  auto it = Targets().find(name);
  return it == Targets().end() ? nullptr : it->second;
}

TargetFn OnlyTarget() {
  if (Targets().size() != 1) {
    std::fprintf(stderr, "a libFuzzer binary links exactly one fuzz target, this one has %zu\n", Targets().size());
    std::abort();
  }
  return Targets().begin()->second;
}

}  // namespace medgemma::fuzz
