// Shared fixtures for engine tests: a fresh temporary directory per test and the tiny model,
// written once per test process.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "engine/gemma3_model.h"
#include "engine/model_bundle.h"

namespace medgemma::testing {

// A new empty directory under the system temp dir, removed when the returned object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The tiny checkpoint (seed 1), written on first use.
const std::filesystem::path& TinyModelDir();
// The tiny model loaded on the CPU in float32 with eager attention (shared, immutable).
const ModelBundle& TinyBundle();
// `count` reproducible random RGB images of `width` x `height`, preprocessed: (count, 3, S, S).
torch::Tensor RandomPixels(int64_t count, uint64_t seed);
std::string RandomPng(int width, int height, uint64_t seed);

}  // namespace medgemma::testing
