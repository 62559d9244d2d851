#include "engine/training/initial_adapter.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/status_macros.h"
#include "engine/torch_guard.h"

namespace medgemma {

absl::StatusOr<std::shared_ptr<LoraAdapter>> InitialAdapter(const LoraConfig& config,
                                                            const std::filesystem::path& init_dir,
                                                            const ModelWeights& base, torch::Device device,
                                                            uint64_t seed) {
  MG_ASSIGN_OR_RETURN(std::shared_ptr<LoraAdapter> adapter, LoraAdapter::Create(config, base, device, seed));
  if (init_dir.empty()) return adapter;
  MG_ASSIGN_OR_RETURN(std::shared_ptr<const LoraAdapter> init, LoraAdapter::Load(init_dir, base, device));
  std::vector<std::string> bad;
  const LoraConfig& saved = init->config();
  if (saved.r != config.r) bad.push_back(absl::StrCat("its r is ", saved.r, ", lora_r is ", config.r));
  if (saved.scale() != config.scale()) {
    bad.push_back(absl::StrCat("its lora_alpha / r scale is ", saved.scale(), ", the run's is ", config.scale()));
  }
  auto to = adapter->Modules();
  const auto from = init->Modules();
  std::vector<std::string> to_names, from_names;
  for (const auto& [name, w] : to) to_names.push_back(name);
  for (const auto& [name, w] : from) from_names.push_back(name);
  if (to_names != from_names) {
    const auto differ = std::mismatch(to_names.begin(), to_names.end(), from_names.begin(), from_names.end());
    const std::string example = differ.first != to_names.end() ? absl::StrCat("target_modules select ", *differ.first)
                                                                : absl::StrCat("it adapts ", *differ.second);
    bad.push_back(absl::StrCat("it adapts ", from_names.size(), " modules where target_modules select ",
                               to_names.size(), " (first difference: ", example, ")"));
  }
  if (!bad.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("init_adapter ", init_dir.string(), " does not fit the run: ", absl::StrJoin(bad, "; ")));
  }
  MG_RETURN_IF_ERROR(GuardTorch("copy initial adapter", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < to.size(); ++i) {
      to[i].second->a.copy_(from[i].second->a);
      to[i].second->b.copy_(from[i].second->b);
    }
    return absl::OkStatus();
  }));
  return adapter;
}

}  // namespace medgemma
