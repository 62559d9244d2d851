#include "engine/tiny_model.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>

#include "engine/checkpoint.h"
#include "base/file_util.h"
#include "engine/model_weights.h"
#include "engine/torch_guard.h"
#include "engine/tokenizer.h"

extern const unsigned char kTinyTokenizerModel[];
extern const size_t kTinyTokenizerModelSize;

namespace medgemma {
namespace fs = std::filesystem;

std::string TinyTokenizerModelBytes() {
  return std::string(reinterpret_cast<const char*>(kTinyTokenizerModel), kTinyTokenizerModelSize);
}

ModelConfig TinyModelConfig(const TinyModelOptions& options) {
  ModelConfig c;
  c.text.vocab_size = 656;  // the tokenizer's 644 pieces, the image soft token 644, spare rows
  c.text.hidden_size = 64;
  c.text.intermediate_size = 128;
  c.text.num_attention_heads = 4;
  c.text.num_key_value_heads = 2;
  c.text.head_dim = 16;
  c.text.query_pre_attn_scalar = 16;
  c.text.sliding_window = options.sliding_window;  // 24: the classification prompt is ~200 tokens
  const int64_t pattern = std::min<int64_t>(options.text_layers, 6);
  for (int64_t i = 0; i < options.text_layers; ++i) {
    c.text.layer_types.push_back((i + 1) % pattern == 0 ? LayerType::kFull : LayerType::kSliding);
  }
  c.text.rope_full = {1000000.0, options.rope_scaling};
  c.text.rope_sliding = {10000.0, 1.0};
  c.vision.hidden_size = 32;
  c.vision.intermediate_size = 64;
  c.vision.num_hidden_layers = 2;
  c.vision.num_attention_heads = 4;
  c.vision.image_size = 64;
  c.vision.patch_size = 8;
  c.mm_tokens_per_image = options.image_tokens;
  c.boi_token_id = 6;  // <start_of_image> in the tiny tokenizer
  c.eoi_token_id = 7;
  c.image_token_id = 644;
  return c;
}

namespace {
// google/gemma-3-4b-it's chat template (newlines inside its string literals written as \n escapes,
// which Jinja reads the same): HF's processor renders prompts from the checkpoint's own template,
// so parity tests compare our prompt with the one the real model gets.
constexpr const char kGemma3ChatTemplate[] = R"jinja({{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
)jinja";

absl::Status ValidateOptions(const TinyModelOptions& o) {
  if (o.text_layers <= 0) return absl::InvalidArgumentError("text layers must be > 0");
  if (o.sliding_window <= 0) return absl::InvalidArgumentError("sliding window must be > 0");
  if (!(o.rope_scaling > 0.0)) return absl::InvalidArgumentError("rope scaling must be > 0");
  return absl::OkStatus();
}

void Randomize(const ModelConfig& config, ModelWeights* weights, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  for (const WeightSlot& slot : weights->Slots(config)) {
    if (slot.optional) continue;
    auto t = torch::empty(slot.shape, torch::kFloat);
    const std::string& n = slot.name;
    const bool layer_norm = n.find("layer_norm") != std::string::npos || n.find("post_layernorm") != std::string::npos;
    if (layer_norm && n.find(".weight") != std::string::npos) {
      t.normal_(1.0, 0.1, gen);  // LayerNorm: around 1
    } else if (n.find("norm") != std::string::npos) {
      t.normal_(0.0, 0.1, gen);  // Gemma RMSNorm stores w of (1 + w): non-zero so it matters
    } else {
      t.normal_(0.0, 0.05, gen);
    }
    *slot.tensor = t;
  }
  weights->text.lm_head = weights->text.embed_tokens;
}
}  // namespace

absl::Status WriteTinyModel(const fs::path& dir, uint64_t seed, const TinyModelOptions& options) {
  MG_RETURN_IF_ERROR(ValidateOptions(options));
  const ModelConfig config = TinyModelConfig(options);
  MG_RETURN_IF_ERROR(config.Validate());
  ModelWeights weights = ModelWeights::Skeleton(config);
  MG_RETURN_IF_ERROR(GuardTorch("tiny model init", [&]() -> absl::Status {
    Randomize(config, &weights, seed);
    return absl::OkStatus();
  }));
  MG_RETURN_IF_ERROR(SaveModelCheckpoint(dir, config, weights));
  const std::string tokenizer_bytes = TinyTokenizerModelBytes();
  MG_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::FromSerializedProto(tokenizer_bytes));
  MG_RETURN_IF_ERROR(WriteStringAtomically(dir / "tokenizer.model", tokenizer_bytes));
  const nlohmann::json tokenizer_config = {
      {"tokenizer_class", "GemmaTokenizer"},
      {"add_bos_token", true},  // as Gemma's released tokenizer_config.json
      {"add_eos_token", false},
      {"bos_token", "<bos>"},
      {"eos_token", "<eos>"},
      {"pad_token", "<pad>"},
      {"unk_token", "<unk>"},
      {"extra_special_tokens",
       {{"boi_token", "<start_of_image>"}, {"eoi_token", "<end_of_image>"}, {"image_token", "<image_soft_token>"}}},
  };
  MG_RETURN_IF_ERROR(WriteStringAtomically(dir / "tokenizer_config.json", tokenizer_config.dump(2)));
  const nlohmann::json preprocessor = {
      {"image_processor_type", "Gemma3ImageProcessor"},
      {"processor_class", "Gemma3Processor"},
      {"size", {{"height", config.vision.image_size}, {"width", config.vision.image_size}}},
      {"image_mean", {0.5, 0.5, 0.5}},
      {"image_std", {0.5, 0.5, 0.5}},
      {"rescale_factor", 1.0 / 255.0},
      {"do_resize", true},
      {"do_rescale", true},
      {"do_normalize", true},
      {"do_convert_rgb", true},
      {"resample", 2},
      {"image_seq_length", config.mm_tokens_per_image},
  };
  MG_RETURN_IF_ERROR(WriteStringAtomically(dir / "preprocessor_config.json", preprocessor.dump(2)));
  // What AutoProcessor reads the soft-token count from (preprocessor_config.json's copy is not).
  const nlohmann::json processor = {{"processor_class", "Gemma3Processor"},
                                    {"image_seq_length", config.mm_tokens_per_image}};
  MG_RETURN_IF_ERROR(WriteStringAtomically(dir / "processor_config.json", processor.dump(2)));
  return WriteStringAtomically(dir / "chat_template.jinja", kGemma3ChatTemplate);
}

}  // namespace medgemma
