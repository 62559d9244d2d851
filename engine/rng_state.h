// Saving and restoring a random number generator's state, so that code re-run in backward (a
// recomputed block, a regenerated dropout mask) draws what the forward pass drew.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace medgemma {

// The default generator of `device`'s type: the one torch::dropout and bernoulli_ draw from.
at::Generator DeviceGenerator(const torch::Device& device);
torch::Tensor GeneratorState(at::Generator generator);
void SetGeneratorState(at::Generator generator, const torch::Tensor& state);

// Runs fn with `generator` at `state`, then puts back the state it had before.
template <typename Fn>
auto WithGeneratorState(at::Generator generator, const torch::Tensor& state, Fn fn) {
  const torch::Tensor current = GeneratorState(generator);
  SetGeneratorState(generator, state);
  auto result = fn();
  SetGeneratorState(generator, current);
  return result;
}

}  // namespace medgemma
