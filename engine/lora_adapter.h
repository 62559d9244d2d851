// A PEFT-compatible LoRA adapter: adapter_config.json + adapter_model.safetensors with peft's key
// names. Adapters are immutable once loaded (serving shares them across threads through
// shared_ptr<const LoraAdapter>); the trainer creates mutable ones and saves them.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <filesystem>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "engine/model_weights.h"

namespace medgemma {

struct LoraConfig {
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0.1;
  std::vector<std::string> target_modules{"all-linear"};
  bool use_rslora = false;
  std::string base_model_name_or_path;

  double scale() const;
  absl::Status Validate() const;
};

struct LoraWeights {
  torch::Tensor a;  // (r, in), float32
  torch::Tensor b;  // (out, r), float32
  // For inference, in the base layer's dtype: A, and B times the adapter's scale. Set by
  // LoraAdapter::Load (adapters being trained have none and take the float32 path).
  torch::Tensor a_compute, b_scaled_compute;
  // The same for one training step of an adapter being trained (LoraAdapter::CastForTrainingStep):
  // the step's forward and backward passes read them instead of casting A and B at every use.
  torch::Tensor a_step, b_scaled_step;
};

// Indices (ModelWeights::linears() order) of the modules `targets` selects, as peft matches them:
// "all-linear" is every Linear but the head; a one-element list holding something that is not a
// plain name is a regular expression over the full module path; otherwise names match the whole
// path or its dot-separated suffix.
absl::StatusOr<std::vector<int>> ResolveTargetModules(const std::vector<std::string>& targets,
                                                      const ModelWeights& base);

// Adapter names appear in metrics labels and paths: letters, digits, '.', '_' and '-', 1..64 long.
// The first of an adapter directory and the files LoraAdapter::Load reads from it that lies
// outside `roots` (symlinks resolved: any of them may be one); nullopt when all lie inside.
std::optional<std::filesystem::path> AdapterPathOutsideRoots(const std::filesystem::path& dir,
                                                             const std::vector<std::filesystem::path>& roots);
absl::Status ValidateAdapterName(const std::string& name);

class LoraAdapter {
 public:
  // Reads and validates an adapter directory against the base model: targets, shapes, rank.
  static absl::StatusOr<std::shared_ptr<const LoraAdapter>> Load(const std::filesystem::path& dir,
                                                                 const ModelWeights& base, torch::Device device);
  // A fresh adapter initialised as peft does: A kaiming-uniform (a = sqrt(5)), B zeros.
  static absl::StatusOr<std::shared_ptr<LoraAdapter>> Create(const LoraConfig& config, const ModelWeights& base,
                                                             torch::Device device, uint64_t seed);

  // Writes the adapter in peft's format, atomically file by file.
  absl::Status Save(const std::filesystem::path& dir) const;

  const LoraConfig& config() const { return config_; }
  // SHA-256 of adapter_model.safetensors as read (empty for adapters not loaded from disk).
  const std::string& version() const { return version_; }
  const LoraWeights* ForLinear(int index) const;
  // The targeted modules' canonical paths and weights, for training and inspection.
  std::vector<std::pair<std::string, LoraWeights*>> Modules();
  std::vector<std::pair<std::string, const LoraWeights*>> Modules() const;
  int64_t NumParameters() const;
  // Sets every module's a_step and b_scaled_step from its current A and B, in `dtype`: a few
  // multi-tensor kernels once per optimizer step, where casting at each use took ~5 small kernels
  // per adapted linear and micro-batch (~2,000 a micro-batch on the 4B model).
  void CastForTrainingStep(torch::ScalarType dtype);

 private:
  LoraConfig config_;
  std::string version_;
  std::vector<std::string> module_names_;  // by linear index; empty when not targeted
  std::vector<LoraWeights> by_linear_;
};

// The base weights with every targeted W replaced by W + scale * B A (computed in float32).
absl::StatusOr<ModelWeights> MergeLora(const ModelWeights& base, const LoraAdapter& adapter);

}  // namespace medgemma
