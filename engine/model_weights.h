// The tensors of a Gemma 3 multimodal model, laid out the way the forward pass reads them.
// Tensors are shared, never mutated after loading: merging an adapter builds a new ModelWeights
// that shares every tensor it does not change.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "engine/model_config.h"

namespace medgemma {

struct Linear {
  std::string module;  // canonical module path, e.g. model.language_model.layers.0.self_attn.q_proj
  int index = -1;      // position in ModelWeights::linears(), the key adapters are resolved to
  torch::Tensor weight;  // (out, in)
  torch::Tensor bias;    // (out) or undefined
};

struct LayerNormWeights {
  torch::Tensor weight, bias;
};

struct VisionLayerWeights {
  LayerNormWeights layer_norm1, layer_norm2;
  Linear q_proj, k_proj, v_proj, out_proj, fc1, fc2;

 private:
  template <typename Self>
  static auto LinearsOf(Self& l) {
    return std::vector{&l.q_proj, &l.k_proj, &l.v_proj, &l.out_proj, &l.fc1, &l.fc2};
  }

 public:
  // Its nn.Linears in module order (ModelWeights::linears() lists them in this order).
  std::vector<Linear*> linears() { return LinearsOf(*this); }
  std::vector<const Linear*> linears() const { return LinearsOf(*this); }
};

struct VisionWeights {
  torch::Tensor patch_weight, patch_bias, position_embedding;
  std::vector<VisionLayerWeights> layers;
  LayerNormWeights post_layernorm;
};

struct ProjectorWeights {
  torch::Tensor soft_emb_norm;     // (V) Gemma RMSNorm weight
  torch::Tensor input_projection;  // (V, D), applied as x @ W
};

struct DecoderLayerWeights {
  Linear q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
  torch::Tensor q_norm, k_norm;
  torch::Tensor input_layernorm, post_attention_layernorm, pre_feedforward_layernorm,
      post_feedforward_layernorm;

 private:
  template <typename Self>
  static auto LinearsOf(Self& l) {
    return std::vector{&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj};
  }

 public:
  // Its nn.Linears in module order (ModelWeights::linears() lists them in this order).
  std::vector<Linear*> linears() { return LinearsOf(*this); }
  std::vector<const Linear*> linears() const { return LinearsOf(*this); }
};

struct TextWeights {
  torch::Tensor embed_tokens;  // (vocab, D)
  std::vector<DecoderLayerWeights> layers;
  torch::Tensor norm;
  torch::Tensor lm_head;  // (vocab, D); the embedding itself when tied
};

// One named tensor of the model with the shape the config demands.
struct WeightSlot {
  std::string name;  // canonical
  torch::Tensor* tensor;
  std::vector<int64_t> shape;
  bool optional = false;  // lm_head: tied to the embedding when absent
};

struct ModelWeights {
  VisionWeights vision;
  ProjectorWeights projector;
  TextWeights text;

  // Sizes the layer vectors and names every Linear for `config`; tensors stay undefined.
  static ModelWeights Skeleton(const ModelConfig& config);
  std::vector<WeightSlot> Slots(const ModelConfig& config);
  // Every nn.Linear of the model except the output head, in a fixed order (vision, then text).
  std::vector<Linear*> linears();
  std::vector<const Linear*> linears() const;
};

}  // namespace medgemma
