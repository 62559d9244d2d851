// What one optimizer step trains on, as the data pipeline hands it to the trainer: per micro-batch
// the labels and the images' pixels, decoded, resized and staged on the host.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace medgemma {

struct TrainingMicroBatch {
  uint64_t index = 0;       // the micro-batch's position in the whole run; seeds its dropout
  std::vector<int> labels;  // per image: index into the task's labels
  torch::Tensor pixels;     // (N, 3, S, S) uint8 from PixelCache::Batch
};

using TrainingWindow = std::vector<TrainingMicroBatch>;

}  // namespace medgemma
