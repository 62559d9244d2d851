#include "base/host_memory.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace medgemma {
namespace {
// A cgroup limit file holds a byte count, or "max" (v2) / a huge number (v1) for no limit.
int64_t LimitIn(const char* path, int64_t otherwise) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return otherwise;
  try {
    return std::min<int64_t>(otherwise, std::stoll(text));
  } catch (const std::exception&) {
    return otherwise;
  }
}
}  // namespace

int64_t HostMemoryLimitBytes() {
  const int64_t physical = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  return LimitIn("/sys/fs/cgroup/memory/memory.limit_in_bytes", LimitIn("/sys/fs/cgroup/memory.max", physical));
}

}  // namespace medgemma
