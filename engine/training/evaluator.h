// Runs the classifier over an evaluation split and scores it: the same label-token readout the
// server answers with, so the trainer's numbers are the numbers clients will see.
#pragma once

#include <absl/status/statusor.h>

#include <functional>
#include <vector>

#include "engine/classifier.h"
#include "engine/training/dataset.h"
#include "engine/training/eval_metrics.h"
#include "engine/training/pixel_cache.h"

namespace medgemma {

// `cancelled` is polled between batches; when it returns true the evaluation stops with CANCELLED.
absl::StatusOr<EvalMetrics> Evaluate(const Classifier& classifier, const std::vector<LabeledImage>& images,
                                     const LoraAdapter* adapter, int batch_size, PixelCache& pixels,
                                     const std::function<bool()>& cancelled = {});

}  // namespace medgemma
