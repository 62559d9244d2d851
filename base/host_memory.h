// How much host memory this process may use: the machine's physical memory, or the container's
// cgroup limit when that is lower (a pod's limit is what the OOM killer enforces, not the node's).
#pragma once

#include <cstdint>

namespace medgemma {

int64_t HostMemoryLimitBytes();

}  // namespace medgemma
