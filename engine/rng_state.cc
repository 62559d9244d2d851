#include "engine/rng_state.h"

#include <ATen/Context.h>

#include <mutex>

namespace medgemma {

at::Generator DeviceGenerator(const torch::Device& device) { return at::globalContext().defaultGenerator(device); }

torch::Tensor GeneratorState(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetGeneratorState(at::Generator generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

}  // namespace medgemma
