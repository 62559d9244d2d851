#include "engine/model_config.h"

#include <absl/strings/str_cat.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "base/file_util.h"
#include "base/status_macros.h"

namespace medgemma {
namespace {
using json = nlohmann::json;

template <typename T>
absl::Status ReadOptional(const json& obj, const char* key, T* out, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return absl::OkStatus();
  try {
    *out = it->get<T>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, key, ": ", e.what()));
  }
  return absl::OkStatus();
}

// Reads the first key present among `keys` (new name first, legacy names after).
template <typename T>
absl::Status ReadAny(const json& obj, std::initializer_list<const char*> keys, T* out,
                     const std::string& where) {
  for (const char* key : keys) {
    if (obj.contains(key) && !obj[key].is_null()) return ReadOptional(obj, key, out, where);
  }
  return absl::OkStatus();
}

absl::StatusOr<RopeParameters> ParseRope(const json& rope, const std::string& where) {
  RopeParameters out;
  if (!rope.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, " must be an object"));
  MG_RETURN_IF_ERROR(ReadOptional(rope, "rope_theta", &out.theta, where + "."));
  std::string type = "default";
  MG_RETURN_IF_ERROR(ReadAny(rope, {"rope_type", "type"}, &type, where + "."));
  if (type == "linear") {
    MG_RETURN_IF_ERROR(ReadOptional(rope, "factor", &out.linear_factor, where + "."));
  } else if (type != "default") {
    return absl::UnimplementedError(absl::StrCat(where, ".rope_type '", type,
                                                 "' is not supported (default and linear are)"));
  }
  return out;
}

absl::Status ParseText(const json& t, TextConfig* c) {
  const std::string w = "text_config.";
  MG_RETURN_IF_ERROR(ReadOptional(t, "vocab_size", &c->vocab_size, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "hidden_size", &c->hidden_size, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "intermediate_size", &c->intermediate_size, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "num_attention_heads", &c->num_attention_heads, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "num_key_value_heads", &c->num_key_value_heads, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "head_dim", &c->head_dim, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "rms_norm_eps", &c->rms_norm_eps, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "query_pre_attn_scalar", &c->query_pre_attn_scalar, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "sliding_window", &c->sliding_window, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "pad_token_id", &c->pad_token_id, w));
  for (const char* key : {"final_logit_softcapping", "attn_logit_softcapping"}) {
    if (t.contains(key) && !t[key].is_null()) {
      return absl::UnimplementedError(absl::StrCat(w, key, " is set; Gemma 3 has no softcapping"));
    }
  }
  if (t.value("attention_bias", false)) {
    return absl::UnimplementedError(w + "attention_bias=true is not supported");
  }
  std::string activation = "gelu_pytorch_tanh";
  MG_RETURN_IF_ERROR(ReadAny(t, {"hidden_activation", "hidden_act"}, &activation, w));
  if (activation != "gelu_pytorch_tanh") {
    return absl::UnimplementedError(absl::StrCat(w, "hidden_activation '", activation, "' is not supported"));
  }

  int64_t num_layers = 26;
  MG_RETURN_IF_ERROR(ReadOptional(t, "num_hidden_layers", &num_layers, w));
  c->layer_types.clear();
  if (t.contains("layer_types") && t["layer_types"].is_array()) {
    for (const auto& v : t["layer_types"]) {
      const std::string s = v.is_string() ? v.get<std::string>() : "";
      if (s == "sliding_attention") c->layer_types.push_back(LayerType::kSliding);
      else if (s == "full_attention") c->layer_types.push_back(LayerType::kFull);
      else return absl::InvalidArgumentError(absl::StrCat(w, "layer_types has unknown entry ", v.dump()));
    }
    if (static_cast<int64_t>(c->layer_types.size()) != num_layers) {
      return absl::InvalidArgumentError(absl::StrCat(w, "layer_types has ", c->layer_types.size(),
                                                     " entries but num_hidden_layers is ", num_layers));
    }
  } else {
    int64_t pattern = 6;
    MG_RETURN_IF_ERROR(ReadOptional(t, "sliding_window_pattern", &pattern, w));
    if (pattern <= 0) return absl::InvalidArgumentError(w + "sliding_window_pattern must be > 0");
    for (int64_t i = 0; i < num_layers; ++i) {
      c->layer_types.push_back((i + 1) % pattern == 0 ? LayerType::kFull : LayerType::kSliding);
    }
  }

  // Legacy keys first; rope_parameters (transformers 5.x) wins where present.
  MG_RETURN_IF_ERROR(ReadOptional(t, "rope_theta", &c->rope_full.theta, w));
  MG_RETURN_IF_ERROR(ReadOptional(t, "rope_local_base_freq", &c->rope_sliding.theta, w));
  if (t.contains("rope_scaling") && t["rope_scaling"].is_object()) {
    MG_ASSIGN_OR_RETURN(RopeParameters scaled, ParseRope(t["rope_scaling"], w + "rope_scaling"));
    c->rope_full.linear_factor = scaled.linear_factor;
  }
  if (t.contains("rope_parameters") && t["rope_parameters"].is_object()) {
    const json& rp = t["rope_parameters"];
    if (rp.contains("full_attention")) {
      MG_ASSIGN_OR_RETURN(c->rope_full, ParseRope(rp["full_attention"], w + "rope_parameters.full_attention"));
    }
    if (rp.contains("sliding_attention")) {
      MG_ASSIGN_OR_RETURN(c->rope_sliding,
                          ParseRope(rp["sliding_attention"], w + "rope_parameters.sliding_attention"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseVision(const json& v, VisionConfig* c) {
  const std::string w = "vision_config.";
  MG_RETURN_IF_ERROR(ReadOptional(v, "hidden_size", &c->hidden_size, w));
  MG_RETURN_IF_ERROR(ReadOptional(v, "intermediate_size", &c->intermediate_size, w));
  MG_RETURN_IF_ERROR(ReadOptional(v, "num_hidden_layers", &c->num_hidden_layers, w));
  MG_RETURN_IF_ERROR(ReadOptional(v, "num_attention_heads", &c->num_attention_heads, w));
  MG_RETURN_IF_ERROR(ReadOptional(v, "num_channels", &c->num_channels, w));
  MG_RETURN_IF_ERROR(ReadOptional(v, "image_size", &c->image_size, w));
  MG_RETURN_IF_ERROR(ReadOptional(v, "patch_size", &c->patch_size, w));
  MG_RETURN_IF_ERROR(ReadOptional(v, "layer_norm_eps", &c->layer_norm_eps, w));
  if (v.value("vision_use_head", false)) {
    return absl::UnimplementedError(w + "vision_use_head=true is not supported (Gemma 3 has no pooling head)");
  }
  std::string activation = "gelu_pytorch_tanh";
  MG_RETURN_IF_ERROR(ReadOptional(v, "hidden_act", &activation, w));
  if (activation != "gelu_pytorch_tanh") {
    return absl::UnimplementedError(absl::StrCat(w, "hidden_act '", activation, "' is not supported"));
  }
  return absl::OkStatus();
}

// transformers 5.x types query_pre_attn_scalar as int and refuses 16.0; the reader takes both.
json IntegralAsInt(double value) {
  const double whole = std::trunc(value);
  if (whole == value && std::abs(whole) < 9.0e15) return static_cast<int64_t>(whole);
  return value;
}

json RopeJson(const RopeParameters& rope) {
  json out = {{"rope_theta", rope.theta}};
  if (rope.linear_factor != 1.0) {
    out["rope_type"] = "linear";
    out["factor"] = rope.linear_factor;
  } else {
    out["rope_type"] = "default";
  }
  return out;
}
}  // namespace

int64_t ModelConfig::tokens_per_side() const {
  return static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(mm_tokens_per_image))));
}

absl::Status ModelConfig::Validate() const {
  auto bad = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (text.num_layers() <= 0) return bad("text_config.num_hidden_layers must be > 0");
  if (text.num_key_value_heads <= 0 || text.num_attention_heads % text.num_key_value_heads != 0) {
    return bad("text_config.num_attention_heads (", text.num_attention_heads,
               ") must be a multiple of num_key_value_heads (", text.num_key_value_heads, ")");
  }
  if (text.head_dim <= 0 || text.head_dim % 2 != 0) return bad("text_config.head_dim must be even and > 0");
  if (vision.num_attention_heads <= 0 || vision.hidden_size % vision.num_attention_heads != 0) {
    return bad("vision_config.hidden_size must be a multiple of num_attention_heads");
  }
  if (vision.patch_size <= 0 || vision.image_size % vision.patch_size != 0) {
    return bad("vision_config.image_size (", vision.image_size, ") must be a multiple of patch_size (",
               vision.patch_size, ")");
  }
  const int64_t side = tokens_per_side();
  if (side * side != mm_tokens_per_image || side <= 0 || vision.patches_per_side() % side != 0) {
    return bad("mm_tokens_per_image (", mm_tokens_per_image, ") must be a square whose side divides ",
               vision.patches_per_side(), " patches per side");
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config.json is not valid JSON: ", e.what()));
  }
  if (!root.is_object()) return absl::InvalidArgumentError("config.json must be a JSON object");
  const std::string model_type = root.value("model_type", "");
  if (model_type != "gemma3") {
    return absl::InvalidArgumentError(absl::StrCat("config.json model_type is '", model_type,
                                                   "'; expected 'gemma3' (Gemma3ForConditionalGeneration)"));
  }
  ModelConfig config;
  MG_RETURN_IF_ERROR(ParseText(root.value("text_config", json::object()), &config.text));
  MG_RETURN_IF_ERROR(ParseVision(root.value("vision_config", json::object()), &config.vision));
  MG_RETURN_IF_ERROR(ReadOptional(root, "mm_tokens_per_image", &config.mm_tokens_per_image, ""));
  MG_RETURN_IF_ERROR(ReadAny(root, {"boi_token_id", "boi_token_index"}, &config.boi_token_id, ""));
  MG_RETURN_IF_ERROR(ReadAny(root, {"eoi_token_id", "eoi_token_index"}, &config.eoi_token_id, ""));
  MG_RETURN_IF_ERROR(ReadAny(root, {"image_token_id", "image_token_index"}, &config.image_token_id, ""));
  MG_RETURN_IF_ERROR(config.Validate());
  return config;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::filesystem::path& model_dir) {
  MG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(model_dir / "config.json"));
  return ParseModelConfig(text);
}

std::string ModelConfigToJson(const ModelConfig& c) {
  json layer_types = json::array();
  int64_t pattern = 0;
  for (size_t i = 0; i < c.text.layer_types.size(); ++i) {
    const bool full = c.text.layer_types[i] == LayerType::kFull;
    layer_types.push_back(full ? "full_attention" : "sliding_attention");
    if (full && pattern == 0) pattern = static_cast<int64_t>(i) + 1;
  }
  json text = {
      {"model_type", "gemma3_text"},
      {"vocab_size", c.text.vocab_size},
      {"hidden_size", c.text.hidden_size},
      {"intermediate_size", c.text.intermediate_size},
      {"num_hidden_layers", c.text.num_layers()},
      {"num_attention_heads", c.text.num_attention_heads},
      {"num_key_value_heads", c.text.num_key_value_heads},
      {"head_dim", c.text.head_dim},
      {"rms_norm_eps", c.text.rms_norm_eps},
      {"query_pre_attn_scalar", IntegralAsInt(c.text.query_pre_attn_scalar)},
      {"sliding_window", c.text.sliding_window},
      {"sliding_window_pattern", pattern == 0 ? c.text.num_layers() + 1 : pattern},
      {"hidden_activation", "gelu_pytorch_tanh"},
      {"attention_bias", false},
      {"final_logit_softcapping", nullptr},
      {"attn_logit_softcapping", nullptr},
      {"pad_token_id", c.text.pad_token_id},
      {"layer_types", layer_types},
      {"rope_parameters", {{"full_attention", RopeJson(c.text.rope_full)},
                           {"sliding_attention", RopeJson(c.text.rope_sliding)}}},
  };
  json vision = {
      {"model_type", "siglip_vision_model"},
      {"hidden_size", c.vision.hidden_size},
      {"intermediate_size", c.vision.intermediate_size},
      {"num_hidden_layers", c.vision.num_hidden_layers},
      {"num_attention_heads", c.vision.num_attention_heads},
      {"num_channels", c.vision.num_channels},
      {"image_size", c.vision.image_size},
      {"patch_size", c.vision.patch_size},
      {"layer_norm_eps", c.vision.layer_norm_eps},
      {"hidden_act", "gelu_pytorch_tanh"},
      {"vision_use_head", false},
  };
  json root = {
      {"architectures", {"Gemma3ForConditionalGeneration"}},
      {"model_type", "gemma3"},
      {"mm_tokens_per_image", c.mm_tokens_per_image},
      {"boi_token_index", c.boi_token_id},
      {"eoi_token_index", c.eoi_token_id},
      {"image_token_index", c.image_token_id},
      {"text_config", text},
      {"vision_config", vision},
  };
  return root.dump(2);
}

}  // namespace medgemma
