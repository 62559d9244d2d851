#include "base/host_memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace medgemma {
namespace {

TEST(HostMemoryTest, LimitIsPositiveAndNoMoreThanPhysicalMemory) {
  const int64_t physical = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  const int64_t limit = HostMemoryLimitBytes();
  EXPECT_GT(limit, int64_t{64} << 20);
  EXPECT_LE(limit, physical);
}

}  // namespace
}  // namespace medgemma
