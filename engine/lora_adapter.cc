#include "engine/lora_adapter.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <nlohmann/json.hpp>
#include <re2/re2.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "base/file_util.h"
#include "engine/bounded_json.h"
#include "engine/safetensors.h"
#include "base/sha256.h"
#include "engine/side_stream.h"
#include "engine/torch_guard.h"
#include "engine/weight_names.h"

namespace medgemma {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kWeightsFile = "adapter_model.safetensors";
constexpr const char* kKeyPrefix = "base_model.model.";
// Far above any real adapter (a rank-64 all-linear fp32 adapter of the 4B model is ~0.6 GB), far
// below what would take the server's memory.
constexpr uint64_t kMaxAdapterWeightsBytes = uint64_t{4} << 30;
constexpr uint64_t kMaxAdapterConfigBytes = uint64_t{1} << 20;
// alpha / r of real adapters is 0.5..4 (rsLoRA: alpha / sqrt(r)); beyond this bound the update
// swamps the base weights and the outputs overflow.
constexpr double kMaxLoraScale = 1000.0;

bool IsPlainName(const std::string& s) {
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  }
  return true;
}

std::string ShortName(const std::string& module) { return module.substr(module.rfind('.') + 1); }

// A PEFT-format key to (canonical module path, "A" or "B"); nullopt for keys that are not LoRA.
std::optional<std::pair<std::string, char>> ParseKey(std::string key) {
  if (!absl::StartsWith(key, kKeyPrefix)) return std::nullopt;
  key = key.substr(std::string(kKeyPrefix).size());
  for (char which : {'A', 'B'}) {
    for (const std::string suffix : {absl::StrCat(".lora_", std::string(1, which), ".weight"),
                                     absl::StrCat(".lora_", std::string(1, which), ".default.weight")}) {
      if (absl::EndsWith(key, suffix)) {
        return std::make_pair(CanonicalTensorName(key.substr(0, key.size() - suffix.size())), which);
      }
    }
  }
  return std::nullopt;
}

absl::Status RefuseUnsupported(const json& cfg) {
  auto set_and_not_empty = [&](const char* key) {
    return cfg.contains(key) && !cfg[key].is_null() && !(cfg[key].is_object() && cfg[key].empty()) &&
           !(cfg[key].is_array() && cfg[key].empty());
  };
  if (cfg.value("peft_type", "LORA") != "LORA") {
    return absl::InvalidArgumentError(absl::StrCat("adapter peft_type is ", cfg["peft_type"].dump(), "; only LORA is supported"));
  }
  if (cfg.value("use_dora", false)) return absl::UnimplementedError("adapter uses DoRA (use_dora), which is not supported");
  if (cfg.value("fan_in_fan_out", false)) return absl::UnimplementedError("adapter sets fan_in_fan_out, which is not supported");
  if (cfg.value("bias", "none") != "none") return absl::UnimplementedError("adapter trains biases (bias != none), which is not supported");
  for (const char* key : {"rank_pattern", "alpha_pattern", "modules_to_save", "layers_to_transform"}) {
    if (set_and_not_empty(key)) return absl::UnimplementedError(absl::StrCat("adapter sets ", key, ", which is not supported"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LoraConfig> ParseConfig(const std::string& text) {
  MG_ASSIGN_OR_RETURN(const json cfg, ParseBoundedJson(text, kConfigFile));
  if (!cfg.is_object()) return absl::InvalidArgumentError(absl::StrCat(kConfigFile, " is not a JSON object"));
  LoraConfig config;
  // Every access below may meet a value of the wrong type (json::type_error).
  try {
    MG_RETURN_IF_ERROR(RefuseUnsupported(cfg));
    // An integer, not any number: get<int64_t> of 1e44 is undefined behaviour (found by tests/fuzz).
    if (!cfg.at("r").is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(kConfigFile, ": r must be an integer, got ", cfg["r"].dump()));
    }
    config.r = cfg.at("r").get<int64_t>();
    config.alpha = cfg.value("lora_alpha", static_cast<double>(config.r));
    config.dropout = cfg.value("lora_dropout", 0.0);
    config.use_rslora = cfg.value("use_rslora", false);
    if (cfg.contains("base_model_name_or_path") && cfg["base_model_name_or_path"].is_string()) {
      config.base_model_name_or_path = cfg["base_model_name_or_path"].get<std::string>();
    }
    const json& targets = cfg.at("target_modules");
    config.target_modules = targets.is_string() ? std::vector<std::string>{targets.get<std::string>()}
                                                : targets.get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(kConfigFile, ": ", e.what()));
  }
  MG_RETURN_IF_ERROR(config.Validate());
  return config;
}
}  // namespace

double LoraConfig::scale() const { return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / r; }

absl::Status LoraConfig::Validate() const {
  if (r <= 0) return absl::InvalidArgumentError(absl::StrCat("LoRA rank r must be > 0, got ", r));
  if (!(alpha > 0) || !std::isfinite(alpha)) {
    return absl::InvalidArgumentError(absl::StrCat("lora_alpha must be a finite number > 0, got ", alpha));
  }
  if (!(scale() <= kMaxLoraScale)) {
    return absl::InvalidArgumentError(absl::StrCat("lora_alpha ", alpha, " with r=", r, " scales the update by ", scale(),
                                                   ", over the limit of ", kMaxLoraScale));
  }
  if (!(dropout >= 0 && dropout < 1)) return absl::InvalidArgumentError(absl::StrCat("lora_dropout must be in [0, 1), got ", dropout));
  if (target_modules.empty()) return absl::InvalidArgumentError("target_modules is empty");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> ResolveTargetModules(const std::vector<std::string>& targets,
                                                      const ModelWeights& base) {
  std::vector<int> out;
  const auto linears = base.linears();
  const bool all_linear = targets.size() == 1 && targets[0] == "all-linear";
  const bool regex = targets.size() == 1 && !all_linear && !IsPlainName(targets[0]);
  // RE2, not std::regex: the pattern comes from requests and adapter files, and a backtracking
  // matcher takes exponential time on patterns such as ".*+x.*!!!!" (found by tests/fuzz).
  std::unique_ptr<RE2> pattern;
  if (regex) {
    pattern = std::make_unique<RE2>(targets[0], RE2::Quiet);
    if (!pattern->ok()) {
      return absl::InvalidArgumentError(absl::StrCat("target_modules regex '", targets[0], "': ", pattern->error()));
    }
  }
  std::set<std::string> matched_targets;
  for (const Linear* linear : linears) {
    bool hit = all_linear;
    if (regex) hit = RE2::FullMatch(linear->module, *pattern);
    for (const auto& t : targets) {
      if (!all_linear && !regex && (linear->module == t || absl::EndsWith(linear->module, "." + t))) {
        hit = true;
        matched_targets.insert(t);
      }
    }
    if (hit) out.push_back(linear->index);
  }
  if (!all_linear && !regex) {
    for (const auto& t : targets) {
      if (!matched_targets.count(t)) {
        return absl::InvalidArgumentError(absl::StrCat("target module '", t, "' matches no linear layer of the model"));
      }
    }
  }
  if (out.empty()) return absl::InvalidArgumentError("target_modules select no linear layer of the model");
  return out;
}

const LoraWeights* LoraAdapter::ForLinear(int index) const {
  if (index < 0 || index >= static_cast<int>(by_linear_.size()) || !by_linear_[index].a.defined()) return nullptr;
  return &by_linear_[index];
}

std::vector<std::pair<std::string, LoraWeights*>> LoraAdapter::Modules() {
  std::vector<std::pair<std::string, LoraWeights*>> out;
  for (size_t i = 0; i < by_linear_.size(); ++i) {
    if (by_linear_[i].a.defined()) out.emplace_back(module_names_[i], &by_linear_[i]);
  }
  return out;
}

std::vector<std::pair<std::string, const LoraWeights*>> LoraAdapter::Modules() const {
  std::vector<std::pair<std::string, const LoraWeights*>> out;
  for (auto& [name, w] : const_cast<LoraAdapter*>(this)->Modules()) out.emplace_back(name, w);
  return out;
}

int64_t LoraAdapter::NumParameters() const {
  int64_t n = 0;
  for (const auto& [name, w] : Modules()) n += w->a.numel() + w->b.numel();
  return n;
}

void LoraAdapter::CastForTrainingStep(torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> as, bs, a_steps, b_steps;
  for (auto& [name, w] : Modules()) {
    if (!w->a_step.defined() || w->a_step.scalar_type() != dtype) {
      w->a_step = torch::empty_like(w->a, w->a.options().dtype(dtype));
      w->b_scaled_step = torch::empty_like(w->b, w->b.options().dtype(dtype));
    }
    as.push_back(w->a);
    bs.push_back(w->b);
    a_steps.push_back(w->a_step);
    b_steps.push_back(w->b_scaled_step);
  }
  if (as.empty()) return;
  at::_foreach_copy_(a_steps, as);
  at::_foreach_copy_(b_steps, at::_foreach_mul(bs, config_.scale()));
}

std::optional<fs::path> AdapterPathOutsideRoots(const fs::path& dir, const std::vector<fs::path>& roots) {
  for (const fs::path& path : {dir, dir / kConfigFile, dir / kWeightsFile}) {
    if (!IsUnderRoots(path, roots)) return path;
  }
  return std::nullopt;
}

absl::Status ValidateAdapterName(const std::string& name) {
  if (name.empty() || name.size() > 64) return absl::InvalidArgumentError("adapter name must be 1..64 characters");
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return absl::InvalidArgumentError(absl::StrCat("adapter name '", name, "' may hold only letters, digits, '.', '_', '-'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<LoraAdapter>> LoraAdapter::Create(const LoraConfig& config, const ModelWeights& base,
                                                                  torch::Device device, uint64_t seed) {
  MG_RETURN_IF_ERROR(config.Validate());
  MG_ASSIGN_OR_RETURN(std::vector<int> targets, ResolveTargetModules(config.target_modules, base));
  return GuardTorch("create adapter", [&]() -> absl::StatusOr<std::shared_ptr<LoraAdapter>> {
    torch::NoGradGuard no_grad;
    auto adapter = std::make_shared<LoraAdapter>();
    adapter->config_ = config;
    const auto linears = base.linears();
    adapter->by_linear_.resize(linears.size());
    adapter->module_names_.resize(linears.size());
    auto generator = torch::make_generator<torch::CPUGeneratorImpl>(seed);
    for (int index : targets) {
      const Linear* linear = linears[index];
      const int64_t out_features = linear->weight.size(0), in_features = linear->weight.size(1);
      const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));  // kaiming_uniform(a=sqrt(5))
      auto a = torch::empty({config.r, in_features}, torch::kFloat).uniform_(-bound, bound, generator);
      adapter->by_linear_[index] = {a.to(device), torch::zeros({out_features, config.r}, torch::TensorOptions(device))};
      adapter->module_names_[index] = linear->module;
    }
    return adapter;
  });
}

absl::StatusOr<std::shared_ptr<const LoraAdapter>> LoraAdapter::Load(const fs::path& dir, const ModelWeights& base,
                                                                     torch::Device device) {
  MG_ASSIGN_OR_RETURN(std::string config_text, ReadFileToString(dir / kConfigFile, kMaxAdapterConfigBytes));
  MG_ASSIGN_OR_RETURN(LoraConfig config, ParseConfig(config_text));
  MG_ASSIGN_OR_RETURN(std::vector<int> targets, ResolveTargetModules(config.target_modules, base));
  MG_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(dir / kWeightsFile, kMaxAdapterWeightsBytes));

  const auto linears = base.linears();
  std::map<std::string, int> index_by_module;
  for (const Linear* l : linears) index_by_module[l->module] = l->index;
  auto adapter = std::make_shared<LoraAdapter>();
  adapter->config_ = config;
  // Hashed from the same mapping the tensors are read from: one read, and a file replaced meanwhile
  // cannot give a version that names other weights.
  adapter->version_ = Sha256Hex(file.bytes());
  adapter->by_linear_.resize(linears.size());
  adapter->module_names_.resize(linears.size());
  std::vector<std::string> problems;
  for (const auto& [key, info] : file.tensors()) {
    auto parsed = ParseKey(key);
    auto it = parsed ? index_by_module.find(parsed->first) : index_by_module.end();
    if (it == index_by_module.end()) {
      problems.push_back(absl::StrCat("'", key, "' names no linear layer of the model"));
      continue;
    }
    const Linear* linear = linears[it->second];
    const std::vector<int64_t> expected = parsed->second == 'A'
                                              ? std::vector<int64_t>{config.r, linear->weight.size(1)}
                                              : std::vector<int64_t>{linear->weight.size(0), config.r};
    if (info.shape != expected) {
      problems.push_back(absl::StrCat("'", key, "' has shape [", absl::StrJoin(info.shape, ","), "], expected [",
                                      absl::StrJoin(expected, ","), "] for r=", config.r));
      continue;
    }
    if (!torch::isFloatingType(info.dtype)) {
      problems.push_back(absl::StrCat("'", key, "' is ", info.dtype_name, "; LoRA weights must be floating point"));
      continue;
    }
    // Checked on the CPU: one device sync per tensor would make a hot-swap of hundreds of them slow.
    MG_ASSIGN_OR_RETURN(torch::Tensor t, file.Load(key, torch::kCPU, torch::kFloat));
    const bool finite = GuardTorch("check adapter weights", [&]() -> absl::StatusOr<bool> {
      return torch::isfinite(t).all().item<bool>();
    }).value_or(false);
    if (!finite) {
      problems.push_back(absl::StrCat("'", key, "' holds NaN or infinite values"));
      continue;
    }
    LoraWeights& w = adapter->by_linear_[it->second];
    (parsed->second == 'A' ? w.a : w.b) = t.clone();  // own the memory: the file's mapping goes away
    adapter->module_names_[it->second] = linear->module;
  }
  const std::set<int> targeted(targets.begin(), targets.end());
  for (size_t i = 0; i < linears.size(); ++i) {
    const LoraWeights& w = adapter->by_linear_[i];
    const bool present = w.a.defined() || w.b.defined();
    if (present && !(w.a.defined() && w.b.defined())) {
      problems.push_back(absl::StrCat(linears[i]->module, " has only one of lora_A / lora_B"));
    } else if (present != (targeted.count(static_cast<int>(i)) > 0)) {
      problems.push_back(absl::StrCat(linears[i]->module,
                                      present ? " has weights but is not in target_modules" : " is targeted but has no weights"));
    }
    if (problems.size() >= 8) break;
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("adapter ", dir.string(), " does not fit the base model: ",
                                                   absl::StrJoin(problems, "; ")));
  }
  // On a side stream: every copy would otherwise wait for the batches queued on the serving stream,
  // which under load made a hot-swap take seconds.
  MG_RETURN_IF_ERROR(GuardTorch("move adapter to the device", [&]() -> absl::Status {
    RunOnSideStream(device, [&] {
      for (size_t i = 0; i < linears.size(); ++i) {
        LoraWeights& w = adapter->by_linear_[i];
        if (!w.a.defined()) continue;
        w.a = w.a.to(device);
        w.b = w.b.to(device);
        const auto dtype = linears[i]->weight.scalar_type();
        w.a_compute = w.a.to(dtype);
        w.b_scaled_compute = (w.b * config.scale()).to(dtype);
      }
    });
    return absl::OkStatus();
  }));
  return std::shared_ptr<const LoraAdapter>(adapter);
}

absl::Status LoraAdapter::Save(const fs::path& dir) const {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::set<std::string> short_names;
  for (const auto& [module, w] : Modules()) {
    tensors.emplace_back(absl::StrCat(kKeyPrefix, module, ".lora_A.weight"), w->a.detach().to(torch::kFloat));
    tensors.emplace_back(absl::StrCat(kKeyPrefix, module, ".lora_B.weight"), w->b.detach().to(torch::kFloat));
    short_names.insert(ShortName(module));
  }
  const bool all_linear = config_.target_modules == std::vector<std::string>{"all-linear"};
  json cfg = {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"r", config_.r},
      {"lora_alpha", config_.alpha},
      {"lora_dropout", config_.dropout},
      // peft saves "all-linear" resolved to the names of the modules it matched.
      {"target_modules", all_linear ? std::vector<std::string>(short_names.begin(), short_names.end())
                                    : config_.target_modules},
      {"bias", "none"},
      {"use_rslora", config_.use_rslora},
      {"use_dora", false},
      {"fan_in_fan_out", false},
      {"modules_to_save", nullptr},
      {"rank_pattern", json::object()},
      {"alpha_pattern", json::object()},
      {"layers_to_transform", nullptr},
      {"init_lora_weights", true},
      {"inference_mode", true},
      {"base_model_name_or_path", config_.base_model_name_or_path},
  };
  MG_RETURN_IF_ERROR(WriteSafetensors(dir / kWeightsFile, tensors, {{"format", "pt"}}));
  return WriteStringAtomically(dir / kConfigFile, cfg.dump(2));
}

absl::StatusOr<ModelWeights> MergeLora(const ModelWeights& base, const LoraAdapter& adapter) {
  return GuardTorch("merge adapter", [&]() -> absl::StatusOr<ModelWeights> {
    torch::NoGradGuard no_grad;
    ModelWeights merged = base;
    for (Linear* linear : merged.linears()) {
      const LoraWeights* w = adapter.ForLinear(linear->index);
      if (w == nullptr) continue;
      auto delta = torch::matmul(w->b, w->a) * adapter.config().scale();
      linear->weight = (linear->weight.to(torch::kFloat) + delta.to(linear->weight.device()))
                           .to(linear->weight.scalar_type());
    }
    return merged;
  });
}

}  // namespace medgemma
