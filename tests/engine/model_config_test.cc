#include "engine/model_config.h"

#include <gtest/gtest.h>

#include "engine/tiny_model.h"
#include "engine/weight_names.h"

namespace medgemma {
namespace {

TEST(ModelConfigTest, LegacyHubFormUsesPatternAndRopeScaling) {
  // The shape of a transformers 4.x medgemma-4b-it config.json: defaults omitted.
  auto c = ParseModelConfig(R"({
    "model_type": "gemma3", "mm_tokens_per_image": 256, "boi_token_index": 255999,
    "eoi_token_index": 256000, "image_token_index": 262144,
    "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "num_hidden_layers": 34,
      "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "sliding_window": 1024},
    "vision_config": {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304,
      "num_attention_heads": 16, "num_hidden_layers": 27, "patch_size": 14, "vision_use_head": false}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->text.num_layers(), 34);
  EXPECT_EQ(c->text.vocab_size, 262208);  // Gemma3TextConfig default
  EXPECT_EQ(c->text.head_dim, 256);
  for (int i = 0; i < 34; ++i) {
    EXPECT_EQ(c->text.layer_types[i] == LayerType::kFull, (i + 1) % 6 == 0) << i;
  }
  EXPECT_DOUBLE_EQ(c->text.rope_full.theta, 1e6);
  EXPECT_DOUBLE_EQ(c->text.rope_full.linear_factor, 8.0);
  EXPECT_DOUBLE_EQ(c->text.rope_sliding.theta, 10000.0);
  EXPECT_DOUBLE_EQ(c->text.rope_sliding.linear_factor, 1.0);
  EXPECT_EQ(c->vision.patches_per_side(), 64);
  EXPECT_EQ(c->tokens_per_side(), 16);
}

TEST(ModelConfigTest, TransformersFiveFormWinsAndRoundTrips) {
  const ModelConfig tiny = TinyModelConfig();
  auto parsed = ParseModelConfig(ModelConfigToJson(tiny));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->text.layer_types, tiny.text.layer_types);
  EXPECT_EQ(parsed->text.sliding_window, tiny.text.sliding_window);
  EXPECT_DOUBLE_EQ(parsed->text.rope_full.linear_factor, 8.0);
  EXPECT_EQ(parsed->image_token_id, tiny.image_token_id);
  EXPECT_EQ(parsed->vision.image_size, 64);
}

TEST(ModelConfigTest, QueryPreAttnScalarIsWrittenAsAnIntAndReadInEitherForm) {
  // transformers 5.x refuses a float here; older writers (ours included) wrote 16.0.
  const std::string written = ModelConfigToJson(TinyModelConfig());
  const std::string key = R"("query_pre_attn_scalar": 16,)";
  const size_t at = written.find(key);
  ASSERT_NE(at, std::string::npos) << written;
  for (const char* value : {R"("query_pre_attn_scalar": 16,)", R"("query_pre_attn_scalar": 16.0,)"}) {
    auto c = ParseModelConfig(std::string(written).replace(at, key.size(), value));
    ASSERT_TRUE(c.ok()) << value << ": " << c.status();
    EXPECT_DOUBLE_EQ(c->text.query_pre_attn_scalar, 16.0) << value;
  }
}

TEST(ModelConfigTest, ErrorsNameTheField) {
  auto wrong_type = ParseModelConfig(R"({"model_type": "llama"})");
  EXPECT_NE(std::string(wrong_type.status().message()).find("gemma3"), std::string::npos);
  auto bad_heads = ParseModelConfig(R"({"model_type": "gemma3", "text_config": {"num_attention_heads": 6, "num_key_value_heads": 4}})");
  EXPECT_NE(std::string(bad_heads.status().message()).find("num_key_value_heads"), std::string::npos);
  auto bad_layers = ParseModelConfig(R"({"model_type": "gemma3", "text_config": {"num_hidden_layers": 2, "layer_types": ["full_attention"]}})");
  EXPECT_NE(std::string(bad_layers.status().message()).find("layer_types"), std::string::npos);
  auto softcap = ParseModelConfig(R"({"model_type": "gemma3", "text_config": {"final_logit_softcapping": 30.0}})");
  EXPECT_EQ(softcap.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_FALSE(ParseModelConfig("{").ok());
}

TEST(WeightNamesTest, EveryLayoutMapsToTheInMemoryPath) {
  EXPECT_EQ(CanonicalTensorName("language_model.model.layers.3.mlp.up_proj.weight"),
            "model.language_model.layers.3.mlp.up_proj.weight");
  EXPECT_EQ(CanonicalTensorName("vision_tower.vision_model.encoder.layers.1.mlp.fc1.bias"),
            "model.vision_tower.encoder.layers.1.mlp.fc1.bias");
  EXPECT_EQ(CanonicalTensorName("vision_tower.post_layernorm.weight"), "model.vision_tower.post_layernorm.weight");
  EXPECT_EQ(CanonicalTensorName("model.vision_tower.vision_model.embeddings.patch_embedding.weight"),
            "model.vision_tower.embeddings.patch_embedding.weight");
  EXPECT_EQ(CanonicalTensorName("multi_modal_projector.mm_input_projection_weight"),
            "model.multi_modal_projector.mm_input_projection_weight");
  EXPECT_EQ(CanonicalTensorName("language_model.lm_head.weight"), "lm_head.weight");
  EXPECT_EQ(CanonicalTensorName("model.language_model.norm.weight"), "model.language_model.norm.weight");
  EXPECT_EQ(SavedTensorName("model.language_model.embed_tokens.weight"), "language_model.model.embed_tokens.weight");
  EXPECT_EQ(SavedTensorName("model.vision_tower.encoder.layers.0.layer_norm1.bias"),
            "vision_tower.encoder.layers.0.layer_norm1.bias");
}

}  // namespace
}  // namespace medgemma
