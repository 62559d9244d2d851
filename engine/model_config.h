// The shape of a Gemma 3 multimodal model as plain data, read from an HF config.json.
// Keys absent from the file take the defaults of transformers' Gemma3TextConfig /
// SiglipVisionConfig / Gemma3Config, because the hub's files omit values equal to those defaults.
#pragma once

#include <absl/status/statusor.h>

#include <filesystem>
#include <string>
#include <vector>

namespace medgemma {

enum class LayerType { kSliding, kFull };

struct RopeParameters {
  double theta = 10000.0;
  double linear_factor = 1.0;  // "linear" rope_type divides inv_freq by this; "default" keeps 1
};

struct TextConfig {
  int64_t vocab_size = 262208;
  int64_t hidden_size = 2304;
  int64_t intermediate_size = 9216;
  int64_t num_attention_heads = 8;
  int64_t num_key_value_heads = 4;
  int64_t head_dim = 256;
  double rms_norm_eps = 1e-6;
  double query_pre_attn_scalar = 256;
  int64_t sliding_window = 4096;
  int64_t pad_token_id = 0;
  std::vector<LayerType> layer_types;  // one entry per decoder layer
  RopeParameters rope_full{1000000.0, 1.0};
  RopeParameters rope_sliding{10000.0, 1.0};
  int64_t num_layers() const { return static_cast<int64_t>(layer_types.size()); }
};

struct VisionConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t num_channels = 3;
  int64_t image_size = 224;
  int64_t patch_size = 16;
  double layer_norm_eps = 1e-6;
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  int64_t patches_per_side() const { return image_size / patch_size; }
};

struct ModelConfig {
  TextConfig text;
  VisionConfig vision;
  int64_t mm_tokens_per_image = 256;
  int64_t boi_token_id = 255999;
  int64_t eoi_token_id = 256000;
  int64_t image_token_id = 262144;

  int64_t tokens_per_side() const;
  // Checks the relations the forward pass relies on (divisibility, head counts); names the field.
  absl::Status Validate() const;
};

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text);
absl::StatusOr<ModelConfig> LoadModelConfig(const std::filesystem::path& model_dir);
// The transformers 5.17 form (layer_types, rope_parameters) plus the legacy keys older readers use.
std::string ModelConfigToJson(const ModelConfig& config);

}  // namespace medgemma
