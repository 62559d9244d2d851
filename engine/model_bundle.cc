#include "engine/model_bundle.h"

#include "engine/chat_prompt.h"
#include "base/status_macros.h"

namespace medgemma {

absl::StatusOr<ModelBundle> LoadModelBundle(const std::filesystem::path& dir, const ModelOptions& options) {
  ModelBundle bundle;
  bundle.dir = dir;
  MG_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::Load(dir / "tokenizer.model"));
  bundle.tokenizer = std::make_shared<const Tokenizer>(std::move(tokenizer));
  MG_ASSIGN_OR_RETURN(bundle.add_bos_token, ReadAddBosToken(dir.string()));
  MG_ASSIGN_OR_RETURN(bundle.model, Gemma3Model::Load(dir, options));
  MG_ASSIGN_OR_RETURN(bundle.preprocess, LoadPreprocessConfig(dir, bundle.model->config().vision));
  return bundle;
}

}  // namespace medgemma
