#include "engine/multimodal_projector.h"

#include <torch/torch.h>

#include "engine/layers.h"

namespace medgemma {

torch::Tensor ProjectImageFeatures(const ModelConfig& config, const ProjectorWeights& weights,
                                   const torch::Tensor& vision_outputs) {
  const int64_t n = vision_outputs.size(0), dim = vision_outputs.size(2);
  const int64_t side = config.vision.patches_per_side();
  const int64_t kernel = side / config.tokens_per_side();
  auto grid = vision_outputs.transpose(1, 2).reshape({n, dim, side, side}).contiguous();
  auto pooled = torch::avg_pool2d(grid, kernel, kernel).flatten(2).transpose(1, 2);
  // transformers builds mm_soft_emb_norm with the vision config's layer_norm_eps.
  auto normed = GemmaRmsNorm(pooled, weights.soft_emb_norm, config.vision.layer_norm_eps);
  return torch::matmul(normed, weights.input_projection).to(vision_outputs.scalar_type());
}

}  // namespace medgemma
