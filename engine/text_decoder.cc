#include "engine/text_decoder.h"

#include <torch/torch.h>

#include "engine/activation_checkpoint.h"

namespace medgemma {
namespace {
struct LayerInputs {
  torch::Tensor mask;
  std::pair<torch::Tensor, torch::Tensor> cos_sin;
};

torch::Tensor SelfAttention(const TextConfig& c, const DecoderLayerWeights& w, const torch::Tensor& x,
                            const LayerInputs& in, const LoraContext& lora, AttentionBackend backend,
                            KvCache* cache, size_t layer_index) {
  const int64_t b = x.size(0), len = x.size(1), hd = c.head_dim;
  // Norm and RoPE run on (B, L, H, hd), the projections' own contiguous layout; only attention
  // sees the (B, H, L, hd) view.
  auto heads = [&](const torch::Tensor& t, int64_t n) { return t.view({b, len, n, hd}); };
  const auto& [cos, sin] = in.cos_sin;
  auto q = GemmaRmsNormRope(heads(ApplyLinear(x, w.q_proj, lora), c.num_attention_heads), w.q_norm, cos, sin,
                            c.rms_norm_eps).transpose(1, 2);
  auto k = GemmaRmsNormRope(heads(ApplyLinear(x, w.k_proj, lora), c.num_key_value_heads), w.k_norm, cos, sin,
                            c.rms_norm_eps).transpose(1, 2);
  auto v = heads(ApplyLinear(x, w.v_proj, lora), c.num_key_value_heads).transpose(1, 2);
  if (cache != nullptr) std::tie(k, v) = cache->Store(layer_index, k, v);
  auto out = Attend(q, k, v, in.mask, std::pow(c.query_pre_attn_scalar, -0.5), backend);
  return ApplyLinear(out.transpose(1, 2).reshape({b, len, c.num_attention_heads * hd}), w.o_proj, lora);
}

torch::Tensor Mlp(const DecoderLayerWeights& w, const torch::Tensor& x, const LoraContext& lora) {
  return ApplyLinearToActivation(InputActivation::kGeluTanhMul, ApplyLinear(x, w.gate_proj, lora),
                                 ApplyLinear(x, w.up_proj, lora), w.down_proj, lora);
}
torch::Tensor DecoderLayer(const TextConfig& c, const DecoderLayerWeights& layer, const torch::Tensor& x,
                           const LayerInputs& in, const LoraContext& lora, AttentionBackend backend, KvCache* cache,
                           size_t layer_index) {
  auto attn = SelfAttention(c, layer, GemmaRmsNorm(x, layer.input_layernorm, c.rms_norm_eps), in, lora, backend, cache,
                            layer_index);
  auto h = AddGemmaRmsNorm(x, attn, layer.post_attention_layernorm, c.rms_norm_eps);
  auto mlp = Mlp(layer, GemmaRmsNorm(h, layer.pre_feedforward_layernorm, c.rms_norm_eps), lora);
  return AddGemmaRmsNorm(h, mlp, layer.post_feedforward_layernorm, c.rms_norm_eps);
}

}  // namespace

DecoderRotaries DecoderRotaries::Create(const TextConfig& c, torch::Device device) {
  return {Rotary::Create(c.rope_full, c.head_dim, device), Rotary::Create(c.rope_sliding, c.head_dim, device)};
}

torch::Tensor TextDecoderForward(const TextConfig& c, const TextWeights& w, const DecoderRotaries& rotaries,
                                 const torch::Tensor& embeds, const TokenLayout& layout, const LoraContext& lora,
                                 AttentionBackend backend, KvCache* cache) {
  TokenLayout keys = layout;
  if (cache != nullptr) {
    cache->AppendLayout(layout);
    keys = cache->Prefix(cache->length + embeds.size(1));
  }
  const auto dtype = embeds.scalar_type();
  const LayerInputs full{PrepareMask(BuildAttentionMask(layout, keys, std::nullopt), dtype, backend),
                         rotaries.full.Tables(layout.positions, dtype)};
  const LayerInputs sliding{PrepareMask(BuildAttentionMask(layout, keys, c.sliding_window), dtype, backend),
                            rotaries.sliding.Tables(layout.positions, dtype)};
  auto x = embeds;
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const auto& layer = w.layers[i];
    const LayerInputs& in = c.layer_types[i] == LayerType::kFull ? full : sliding;
    if (lora.checkpoint_activations && cache == nullptr && torch::GradMode::is_enabled()) {
      // Captured by value: backward runs after this function has returned.
      auto recompute = [&c, &layer, in, lora, backend, i](const torch::Tensor& h) {
        return DecoderLayer(c, layer, h, in, lora, backend, nullptr, i);
      };
      x = CheckpointedCall(recompute, x, LoraParameters(layer.linears(), lora));
    } else {
      x = DecoderLayer(c, layer, x, in, lora, backend, cache, i);
    }
  }
  if (cache != nullptr) cache->length += embeds.size(1);
  return x;
}

}  // namespace medgemma
