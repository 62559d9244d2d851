#include "engine/training/evaluator.h"

#include <torch/torch.h>

#include "base/status_macros.h"
#include "engine/torch_guard.h"

namespace medgemma {

absl::StatusOr<EvalMetrics> Evaluate(const Classifier& classifier, const std::vector<LabeledImage>& images,
                                     const LoraAdapter* adapter, int batch_size, PixelCache& pixels,
                                     const std::function<bool()>& cancelled) {
  std::vector<int> truth, predicted;
  for (size_t start = 0; start < images.size(); start += batch_size) {
    if (cancelled && cancelled()) return absl::CancelledError("evaluation cancelled");
    const std::vector<LabeledImage> batch(images.begin() + start,
                                          images.begin() + std::min(images.size(), start + batch_size));
    const torch::Device device = classifier.model().options().device;
    MG_ASSIGN_OR_RETURN(torch::Tensor staged, pixels.Batch(batch, device));
    MG_ASSIGN_OR_RETURN(torch::Tensor pixel_values, GuardTorch("normalize pixels", [&]() -> absl::StatusOr<torch::Tensor> {
                          return UploadAndNormalizePixels(staged, device, pixels.config());
                        }));
    MG_ASSIGN_OR_RETURN(torch::Tensor probabilities, classifier.Classify(pixel_values, adapter));
    auto p = probabilities.contiguous();
    for (size_t i = 0; i < batch.size(); ++i) {
      truth.push_back(batch[i].label);
      predicted.push_back(classifier.task().Summarize(p[static_cast<int64_t>(i)].data_ptr<float>()).label);
    }
  }
  return ComputeEvalMetrics(classifier.task(), truth, predicted);
}

}  // namespace medgemma
