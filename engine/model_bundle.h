// Everything a checkpoint directory provides, loaded together: the model, its tokenizer, the
// processor's bos behaviour and image settings. What the CLI, the server and the trainer start from.
#pragma once

#include <absl/status/statusor.h>

#include <filesystem>
#include <memory>

#include "engine/gemma3_model.h"
#include "engine/image_preprocessor.h"
#include "engine/tokenizer.h"

namespace medgemma {

struct ModelBundle {
  std::filesystem::path dir;
  std::shared_ptr<const Gemma3Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  bool add_bos_token = false;
  PreprocessConfig preprocess;
};

absl::StatusOr<ModelBundle> LoadModelBundle(const std::filesystem::path& dir, const ModelOptions& options);

}  // namespace medgemma
