// The adapter a fine-tune starts from: peft's fresh initialisation from the run's seed, or a saved
// PEFT adapter (e.g. peft's own initialisation, for parity runs against another trainer) that must
// fit the run's LoRA settings.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <filesystem>
#include <memory>

#include "engine/lora_adapter.h"

namespace medgemma {

// `init_dir` empty: a fresh adapter. Otherwise its r, alpha / r scale and adapted modules must be
// those `config` gives on `base`; its weights are copied into a trainable adapter with `config`
// (whose dropout applies, not the saved one's).
absl::StatusOr<std::shared_ptr<LoraAdapter>> InitialAdapter(const LoraConfig& config,
                                                            const std::filesystem::path& init_dir,
                                                            const ModelWeights& base, torch::Device device,
                                                            uint64_t seed);

}  // namespace medgemma
