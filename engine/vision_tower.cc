#include "engine/vision_tower.h"

#include <torch/torch.h>

#include "engine/activation_checkpoint.h"

namespace medgemma {
namespace {
torch::Tensor SelfAttention(const VisionConfig& c, const VisionLayerWeights& w, const torch::Tensor& x,
                            const LoraContext& lora, AttentionBackend backend) {
  const int64_t n = x.size(0), len = x.size(1), heads = c.num_attention_heads, hd = c.head_dim();
  auto split = [&](const torch::Tensor& t) { return t.view({n, len, heads, hd}).transpose(1, 2); };
  auto q = split(ApplyLinear(x, w.q_proj, lora));
  auto k = split(ApplyLinear(x, w.k_proj, lora));
  auto v = split(ApplyLinear(x, w.v_proj, lora));
  auto out = Attend(q, k, v, torch::Tensor(), std::pow(static_cast<double>(hd), -0.5), backend);
  return ApplyLinear(out.transpose(1, 2).reshape({n, len, heads * hd}), w.out_proj, lora);
}

torch::Tensor Mlp(const VisionLayerWeights& layer, const torch::Tensor& x, const LoraContext& lora) {
  // Training keeps fc1's output and recomputes its GELU in fc2's backward; inference fuses the
  // GELU into fc1's GEMM where it can.
  if (TrainsLora(layer.fc2, lora)) {
    return ApplyLinearToActivation(InputActivation::kGeluTanh, ApplyLinear(x, layer.fc1, lora), torch::Tensor(),
                                   layer.fc2, lora);
  }
  return ApplyLinear(ApplyLinearGelu(x, layer.fc1, lora), layer.fc2, lora);
}

torch::Tensor EncoderLayer(const VisionConfig& c, const VisionLayerWeights& layer, const torch::Tensor& x,
                           const LoraContext& lora, AttentionBackend backend) {
  auto h = x + SelfAttention(c, layer, LayerNorm(x, layer.layer_norm1, c.layer_norm_eps), lora, backend);
  return h + Mlp(layer, LayerNorm(h, layer.layer_norm2, c.layer_norm_eps), lora);
}
}  // namespace

torch::Tensor VisionTowerForward(const VisionConfig& c, const VisionWeights& w, const torch::Tensor& pixel_values,
                                 const LoraContext& lora, AttentionBackend backend) {
  auto x = torch::conv2d(pixel_values.to(w.patch_weight.scalar_type()), w.patch_weight, w.patch_bias,
                         /*stride=*/c.patch_size);
  // (N, patches, V), row-major patches. Made contiguous before anything else reads it: the
  // transposed conv output would otherwise hand its strides to every residual add after it.
  x = x.flatten(2).transpose(1, 2).contiguous() + w.position_embedding;
  for (const auto& layer : w.layers) {
    if (lora.checkpoint_activations && torch::GradMode::is_enabled()) {
      // 4096 tokens an image: the tower's activations outweigh the decoder's, so it is checkpointed
      // too (captured by value: backward runs after this function has returned).
      auto recompute = [&c, &layer, lora, backend](const torch::Tensor& h) {
        return EncoderLayer(c, layer, h, lora, backend);
      };
      x = CheckpointedCall(recompute, x, LoraParameters(layer.linears(), lora));
    } else {
      x = EncoderLayer(c, layer, x, lora, backend);
    }
  }
  return LayerNorm(x, w.post_layernorm, c.layer_norm_eps);
}

}  // namespace medgemma
