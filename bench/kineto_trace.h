// One run of a piece of work under the Kineto profiler (CPU ops and CUDA kernels), saved as a
// Chrome trace for tools/perf/summarize_trace.py.
#pragma once

#include <functional>
#include <string>

namespace medgemma {

void TraceToChromeJson(const std::string& path, const std::function<void()>& run);

}  // namespace medgemma
