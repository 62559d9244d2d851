// An untrusted adapter_config.json loaded against the tiny model: peft fields and their types,
// rank/alpha/dropout ranges, target_modules (names or a regular expression), then the weights
// checked against what the config says (a fixed adapter_model.safetensors of rank 8, all-linear).
#include <torch/torch.h>

#include <cmath>

#include "engine/lora_adapter.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/fuzz_target.h"

namespace {
const std::filesystem::path& AdapterDir() {
  static const std::filesystem::path* dir = [] {
    auto* path = new std::filesystem::path(medgemma::fuzz::ScratchDir() / "adapter");
    auto adapter = medgemma::LoraAdapter::Create(medgemma::LoraConfig{}, medgemma::fuzz::TinyModel().model->weights(),
                                                 torch::kCPU, 7);
    MEDGEMMA_FUZZ_CHECK(adapter.ok() && (*adapter)->Save(*path).ok());
    return path;
  }();
  return *dir;
}
}  // namespace

MEDGEMMA_FUZZ_TARGET(adapter_config) {
  const medgemma::ModelWeights& base = medgemma::fuzz::TinyModel().model->weights();
  medgemma::fuzz::WriteFile(AdapterDir() / "adapter_config.json", data);
  auto adapter = medgemma::LoraAdapter::Load(AdapterDir(), base, torch::kCPU);
  if (!adapter.ok()) {
    MEDGEMMA_FUZZ_CHECK(adapter.status().code() != absl::StatusCode::kInternal &&
                        adapter.status().code() != absl::StatusCode::kUnknown);
    return;
  }
  const medgemma::LoraConfig& config = (*adapter)->config();
  MEDGEMMA_FUZZ_CHECK(config.Validate().ok());
  MEDGEMMA_FUZZ_CHECK(config.r == 8);  // the weights' rank: any other must have been refused
  MEDGEMMA_FUZZ_CHECK(std::isfinite(config.scale()) && config.scale() > 0);
  for (const auto& [module, weights] : (*adapter)->Modules()) {
    MEDGEMMA_FUZZ_CHECK(weights->a.size(0) == 8 && weights->b.size(1) == 8);
  }
}
