// A random Gemma 3 checkpoint with the real structure at toy size, the embedded default for tests
// and the demo: 2 text layers (one sliding with a window shorter than the prompt, one global),
// 2 SigLIP layers, 64 px images in 8 px patches, 4 soft tokens per image, and a real
// SentencePiece BPE tokenizer.model with Gemma's special tokens and single-digit pieces.
// The files are those of a hub checkpoint, so transformers loads the directory as it is.
#pragma once

#include <absl/status/status.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "engine/model_config.h"

namespace medgemma {

// Shapes a parity run varies; the defaults are the tiny model above.
struct TinyModelOptions {
  int64_t text_layers = 2;        // layer i is global when (i + 1) % min(text_layers, 6) == 0, as Gemma 3
  int64_t sliding_window = 24;
  double rope_scaling = 8.0;      // linear factor of the global layers' RoPE
  int64_t image_tokens = 4;       // soft tokens per image: a square whose side divides 8
};

// The committed tokenizer.model (engine/assets/tiny_tokenizer.model), embedded in the binary.
std::string TinyTokenizerModelBytes();
ModelConfig TinyModelConfig(const TinyModelOptions& options = {});
// Writes config.json, model.safetensors, tokenizer.model, tokenizer_config.json,
// preprocessor_config.json, processor_config.json and chat_template.jinja. The same seed and
// options give the same bytes.
absl::Status WriteTinyModel(const std::filesystem::path& dir, uint64_t seed, const TinyModelOptions& options = {});

}  // namespace medgemma
