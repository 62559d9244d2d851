// Device work queued on a CUDA stream of its own, so it neither waits for nor delays the batches on
// the serving stream: an adapter's upload runs while they compute.
#pragma once

#include <torch/types.h>

#include <functional>

namespace medgemma {

// Runs `fn` with a pooled side stream current on `device` and waits for that stream's work before
// returning, so what `fn` made is ready for any stream. On the CPU, or in builds without the CUDA
// runtime headers, just runs `fn`. Throws what `fn` throws.
void RunOnSideStream(const torch::Device& device, const std::function<void()>& fn);

}  // namespace medgemma
