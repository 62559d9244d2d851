#include "engine/model_weights.h"

#include <absl/strings/str_cat.h>

namespace medgemma {
namespace {
void NameLinear(Linear* linear, std::string module) { linear->module = std::move(module); }

void AddLinear(std::vector<WeightSlot>* slots, Linear* linear, int64_t out, int64_t in, bool bias) {
  slots->push_back({linear->module + ".weight", &linear->weight, {out, in}});
  if (bias) slots->push_back({linear->module + ".bias", &linear->bias, {out}});
}

void AddLayerNorm(std::vector<WeightSlot>* slots, const std::string& prefix, LayerNormWeights* ln,
                  int64_t dim) {
  slots->push_back({prefix + ".weight", &ln->weight, {dim}});
  slots->push_back({prefix + ".bias", &ln->bias, {dim}});
}
}  // namespace

ModelWeights ModelWeights::Skeleton(const ModelConfig& config) {
  ModelWeights w;
  w.vision.layers.resize(config.vision.num_hidden_layers);
  for (size_t i = 0; i < w.vision.layers.size(); ++i) {
    const std::string p = absl::StrCat("model.vision_tower.encoder.layers.", i, ".");
    auto& l = w.vision.layers[i];
    NameLinear(&l.q_proj, p + "self_attn.q_proj");
    NameLinear(&l.k_proj, p + "self_attn.k_proj");
    NameLinear(&l.v_proj, p + "self_attn.v_proj");
    NameLinear(&l.out_proj, p + "self_attn.out_proj");
    NameLinear(&l.fc1, p + "mlp.fc1");
    NameLinear(&l.fc2, p + "mlp.fc2");
  }
  w.text.layers.resize(config.text.num_layers());
  for (size_t i = 0; i < w.text.layers.size(); ++i) {
    const std::string p = absl::StrCat("model.language_model.layers.", i, ".");
    auto& l = w.text.layers[i];
    NameLinear(&l.q_proj, p + "self_attn.q_proj");
    NameLinear(&l.k_proj, p + "self_attn.k_proj");
    NameLinear(&l.v_proj, p + "self_attn.v_proj");
    NameLinear(&l.o_proj, p + "self_attn.o_proj");
    NameLinear(&l.gate_proj, p + "mlp.gate_proj");
    NameLinear(&l.up_proj, p + "mlp.up_proj");
    NameLinear(&l.down_proj, p + "mlp.down_proj");
  }
  int index = 0;
  for (Linear* linear : w.linears()) linear->index = index++;
  return w;
}

std::vector<WeightSlot> ModelWeights::Slots(const ModelConfig& config) {
  const auto& vc = config.vision;
  const auto& tc = config.text;
  const int64_t V = vc.hidden_size, D = tc.hidden_size, hd = tc.head_dim;
  std::vector<WeightSlot> s;
  s.push_back({"model.vision_tower.embeddings.patch_embedding.weight", &vision.patch_weight,
               {V, vc.num_channels, vc.patch_size, vc.patch_size}});
  s.push_back({"model.vision_tower.embeddings.patch_embedding.bias", &vision.patch_bias, {V}});
  const int64_t patches = vc.patches_per_side() * vc.patches_per_side();
  s.push_back({"model.vision_tower.embeddings.position_embedding.weight", &vision.position_embedding, {patches, V}});
  for (size_t i = 0; i < vision.layers.size(); ++i) {
    const std::string p = absl::StrCat("model.vision_tower.encoder.layers.", i, ".");
    auto& l = vision.layers[i];
    AddLayerNorm(&s, p + "layer_norm1", &l.layer_norm1, V);
    AddLinear(&s, &l.q_proj, V, V, true);
    AddLinear(&s, &l.k_proj, V, V, true);
    AddLinear(&s, &l.v_proj, V, V, true);
    AddLinear(&s, &l.out_proj, V, V, true);
    AddLayerNorm(&s, p + "layer_norm2", &l.layer_norm2, V);
    AddLinear(&s, &l.fc1, vc.intermediate_size, V, true);
    AddLinear(&s, &l.fc2, V, vc.intermediate_size, true);
  }
  AddLayerNorm(&s, "model.vision_tower.post_layernorm", &vision.post_layernorm, V);
  s.push_back({"model.multi_modal_projector.mm_soft_emb_norm.weight", &projector.soft_emb_norm, {V}});
  s.push_back({"model.multi_modal_projector.mm_input_projection_weight", &projector.input_projection, {V, D}});
  s.push_back({"model.language_model.embed_tokens.weight", &text.embed_tokens, {tc.vocab_size, D}});
  for (size_t i = 0; i < text.layers.size(); ++i) {
    const std::string p = absl::StrCat("model.language_model.layers.", i, ".");
    auto& l = text.layers[i];
    AddLinear(&s, &l.q_proj, tc.num_attention_heads * hd, D, false);
    AddLinear(&s, &l.k_proj, tc.num_key_value_heads * hd, D, false);
    AddLinear(&s, &l.v_proj, tc.num_key_value_heads * hd, D, false);
    AddLinear(&s, &l.o_proj, D, tc.num_attention_heads * hd, false);
    s.push_back({p + "self_attn.q_norm.weight", &l.q_norm, {hd}});
    s.push_back({p + "self_attn.k_norm.weight", &l.k_norm, {hd}});
    AddLinear(&s, &l.gate_proj, tc.intermediate_size, D, false);
    AddLinear(&s, &l.up_proj, tc.intermediate_size, D, false);
    AddLinear(&s, &l.down_proj, D, tc.intermediate_size, false);
    s.push_back({p + "input_layernorm.weight", &l.input_layernorm, {D}});
    s.push_back({p + "post_attention_layernorm.weight", &l.post_attention_layernorm, {D}});
    s.push_back({p + "pre_feedforward_layernorm.weight", &l.pre_feedforward_layernorm, {D}});
    s.push_back({p + "post_feedforward_layernorm.weight", &l.post_feedforward_layernorm, {D}});
  }
  s.push_back({"model.language_model.norm.weight", &text.norm, {D}});
  s.push_back({"lm_head.weight", &text.lm_head, {tc.vocab_size, D}, /*optional=*/true});
  return s;
}

std::vector<Linear*> ModelWeights::linears() {
  std::vector<Linear*> out;
  for (auto& l : vision.layers) {
    for (Linear* x : l.linears()) out.push_back(x);
  }
  for (auto& l : text.layers) {
    for (Linear* x : l.linears()) out.push_back(x);
  }
  return out;
}

std::vector<const Linear*> ModelWeights::linears() const {
  std::vector<const Linear*> out;
  for (Linear* l : const_cast<ModelWeights*>(this)->linears()) out.push_back(l);
  return out;
}

}  // namespace medgemma
