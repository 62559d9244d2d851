// A random Gemma 3 checkpoint with the real structure at toy size, the embedded default for tests
// and the demo: 2 text layers (one sliding with a window shorter than the prompt, one global),
// 2 SigLIP layers, 64 px images in 8 px patches, 4 soft tokens per image, and a real
// SentencePiece BPE tokenizer.model with Gemma's special tokens and single-digit pieces.
#pragma once

#include <absl/status/status.h>

#include <filesystem>
#include <string>

#include "engine/model_config.h"

namespace medgemma {

// The committed tokenizer.model (engine/assets/tiny_tokenizer.model), embedded in the binary.
std::string TinyTokenizerModelBytes();
ModelConfig TinyModelConfig();
// Writes config.json, model.safetensors, tokenizer.model, tokenizer_config.json and
// preprocessor_config.json. The same seed gives the same bytes.
absl::Status WriteTinyModel(const std::filesystem::path& dir, uint64_t seed);

}  // namespace medgemma
