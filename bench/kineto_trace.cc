#include "bench/kineto_trace.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <cstdio>

namespace medgemma {

void TraceToChromeJson(const std::string& path, const std::function<void()>& run) {
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  const std::set<ActivityType> activities{ActivityType::CPU, ActivityType::CUDA};
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  run();
  prof::disableProfiler()->save(path);
  std::printf("trace written to %s\n", path.c_str());
}

}  // namespace medgemma
