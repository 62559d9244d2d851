// A loaded Gemma 3 multimodal model: config, weights on one device in one dtype, and the forward
// pass from token ids and pixels to hidden states and logits. Immutable after loading and safe to
// share between threads; adapters are passed per call, never stored.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>

#include "engine/attention.h"
#include "engine/kv_cache.h"
#include "engine/layers.h"
#include "engine/model_config.h"
#include "engine/model_weights.h"
#include "engine/text_decoder.h"

namespace medgemma {

struct ModelOptions {
  torch::Device device{torch::kCPU};
  torch::ScalarType dtype = torch::kFloat;
  AttentionBackend attention = DefaultAttentionBackend();
};

// device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when present); dtype: "float32", "bfloat16",
// "float16" or "auto" (bfloat16 on CUDA, float32 on CPU); attention: "sdpa", "eager" or "auto".
absl::StatusOr<ModelOptions> ParseModelOptions(const std::string& device, const std::string& dtype,
                                               const std::string& attention = "auto");
std::string DtypeName(torch::ScalarType dtype);

struct ModelInputs {
  torch::Tensor input_ids;       // (B, L) int64
  torch::Tensor attention_mask;  // (B, L), 1 on real tokens
  torch::Tensor token_type_ids;  // (B, L), 1 on image soft tokens; derived from ids when undefined
  torch::Tensor pixel_values;    // (N, C, S, S), one image per run of soft tokens, in order; or undefined
};

class Gemma3Model {
 public:
  static absl::StatusOr<std::shared_ptr<const Gemma3Model>> Load(const std::filesystem::path& model_dir,
                                                                 const ModelOptions& options);
  static std::shared_ptr<const Gemma3Model> FromWeights(ModelConfig config, ModelWeights weights,
                                                        const ModelOptions& options);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const ModelOptions& options() const { return options_; }

  // The building blocks below throw c10::Error; engine code calls them inside GuardTorch.
  // (N, C, S, S) -> (N, mm_tokens_per_image, D)
  torch::Tensor ImageSoftTokens(const torch::Tensor& pixel_values, const LoraContext& lora) const;
  // Scaled token embeddings with the image soft tokens written over the placeholder positions.
  // Without soft tokens, placeholder ids embed as ordinary tokens, as transformers does without
  // pixel_values: that is how a generated <image_soft_token> is fed back while decoding.
  // Host ids (as BatchPrompts makes them) keep the device queue free of waits.
  torch::Tensor Embed(const torch::Tensor& input_ids, const torch::Tensor& image_soft_tokens) const;
  // Hidden states before the final norm, (B, L, D).
  torch::Tensor Hidden(const ModelInputs& inputs, const LoraContext& lora, KvCache* cache) const;
  torch::Tensor DecodeEmbeddings(const torch::Tensor& embeds, const TokenLayout& layout, const LoraContext& lora,
                                 KvCache* cache) const;
  // Final norm and head; with `vocab_rows` defined only those rows of the head are computed.
  torch::Tensor Logits(const torch::Tensor& hidden, const torch::Tensor& vocab_rows = {}) const;

  // All-position float32 logits (B, L, vocab), for tools and parity checks.
  absl::StatusOr<torch::Tensor> ForwardLogits(const ModelInputs& inputs, const LoraAdapter* adapter) const;

 private:
  Gemma3Model(ModelConfig config, ModelWeights weights, const ModelOptions& options);
  ModelConfig config_;
  ModelWeights weights_;
  ModelOptions options_;
  DecoderRotaries rotaries_;
  double embed_scale_;
};

}  // namespace medgemma
