#include "engine/checkpoint.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <map>
#include <set>

#include "base/file_util.h"
#include "engine/safetensors.h"
#include "base/status_macros.h"
#include "engine/weight_names.h"

namespace medgemma {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
constexpr const char* kIndexFile = "model.safetensors.index.json";
constexpr const char* kSingleFile = "model.safetensors";

std::string ListSome(const std::vector<std::string>& names, size_t limit = 8) {
  std::vector<std::string> head(names.begin(), names.begin() + std::min(limit, names.size()));
  std::string out = absl::StrJoin(head, ", ");
  if (names.size() > limit) absl::StrAppend(&out, " and ", names.size() - limit, " more");
  return out;
}

// Shard file names come from a JSON file: they must name plain files inside the directory.
absl::Status CheckShardName(const std::string& file) {
  if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
    return absl::InvalidArgumentError(absl::StrCat(kIndexFile, " names shard '", file,
                                                   "', which is not a plain file name in the checkpoint directory"));
  }
  return absl::OkStatus();
}

struct Source {
  const SafetensorsFile* file;
  std::string stored_name;
};

absl::StatusOr<std::vector<SafetensorsFile>> OpenShards(const fs::path& dir,
                                                        std::map<std::string, std::string>* weight_map) {
  std::vector<SafetensorsFile> files;
  if (fs::exists(dir / kIndexFile)) {
    MG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(dir / kIndexFile));
    json index;
    try {
      index = json::parse(text);
    } catch (const json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(kIndexFile, " is not valid JSON: ", e.what()));
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(kIndexFile, " has no weight_map object"));
    }
    std::set<std::string> shard_names;
    for (const auto& [name, file] : index["weight_map"].items()) {
      if (!file.is_string()) return absl::InvalidArgumentError(absl::StrCat(kIndexFile, ": entry for ", name, " is not a string"));
      MG_RETURN_IF_ERROR(CheckShardName(file.get<std::string>()));
      (*weight_map)[name] = file.get<std::string>();
      shard_names.insert(file.get<std::string>());
    }
    for (const auto& shard : shard_names) {
      MG_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(dir / shard));
      files.push_back(std::move(f));
    }
    return files;
  }
  if (!fs::exists(dir / kSingleFile)) {
    return absl::NotFoundError(absl::StrCat("no ", kSingleFile, " or ", kIndexFile, " in ", dir.string()));
  }
  MG_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(dir / kSingleFile));
  for (const auto& [name, info] : f.tensors()) (*weight_map)[name] = kSingleFile;
  files.push_back(std::move(f));
  return files;
}

absl::StatusOr<std::map<std::string, Source>> IndexByCanonicalName(
    const std::vector<SafetensorsFile>& files, const std::map<std::string, std::string>& weight_map) {
  std::map<std::string, Source> sources;
  for (const auto& [name, shard] : weight_map) {
    const SafetensorsFile* file = nullptr;
    for (const auto& f : files) {
      if (f.path().filename() == shard) file = &f;
    }
    if (file == nullptr || !file->Contains(name)) {
      return absl::DataLossError(absl::StrCat("tensor '", name, "' is listed in ", kIndexFile, " under ", shard,
                                              " but that file does not contain it"));
    }
    const std::string canonical = CanonicalTensorName(name);
    if (!sources.emplace(canonical, Source{file, name}).second) {
      return absl::InvalidArgumentError(absl::StrCat("tensors '", sources[canonical].stored_name, "' and '", name,
                                                     "' both name ", canonical));
    }
  }
  return sources;
}
}  // namespace

absl::StatusOr<ModelWeights> LoadModelWeights(const fs::path& model_dir, const ModelConfig& config,
                                              torch::Device device, torch::ScalarType dtype) {
  std::map<std::string, std::string> weight_map;
  MG_ASSIGN_OR_RETURN(std::vector<SafetensorsFile> files, OpenShards(model_dir, &weight_map));
  MG_ASSIGN_OR_RETURN(auto sources, IndexByCanonicalName(files, weight_map));

  ModelWeights weights = ModelWeights::Skeleton(config);
  std::vector<std::string> missing, wrong_shape;
  std::set<std::string> used;
  for (WeightSlot& slot : weights.Slots(config)) {
    auto it = sources.find(slot.name);
    if (it == sources.end()) {
      if (!slot.optional) missing.push_back(slot.name);
      continue;
    }
    used.insert(slot.name);
    const TensorInfo& info = it->second.file->tensors().at(it->second.stored_name);
    if (info.shape != slot.shape) {
      wrong_shape.push_back(absl::StrCat(it->second.stored_name, " [", absl::StrJoin(info.shape, ","),
                                         "] (config needs [", absl::StrJoin(slot.shape, ","), "])"));
      continue;
    }
    if (!torch::isFloatingType(info.dtype)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", info.name, "' has dtype ", info.dtype_name,
                                                     "; model weights must be floating point"));
    }
    MG_ASSIGN_OR_RETURN(*slot.tensor, it->second.file->Load(it->second.stored_name, device, dtype));
  }
  std::vector<std::string> unknown;
  for (const auto& [canonical, source] : sources) {
    if (!used.count(canonical)) unknown.push_back(source.stored_name);
  }
  if (!missing.empty() || !wrong_shape.empty() || !unknown.empty()) {
    std::vector<std::string> problems;
    if (!missing.empty()) problems.push_back(absl::StrCat("missing tensors: ", ListSome(missing)));
    if (!wrong_shape.empty()) problems.push_back(absl::StrCat("wrong shapes: ", ListSome(wrong_shape)));
    if (!unknown.empty()) problems.push_back(absl::StrCat("unknown tensors: ", ListSome(unknown)));
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", model_dir.string(),
                                                   " does not match its config.json: ", absl::StrJoin(problems, "; ")));
  }
  if (!weights.text.lm_head.defined()) weights.text.lm_head = weights.text.embed_tokens;
  return weights;
}

absl::Status SaveModelCheckpoint(const fs::path& model_dir, const ModelConfig& config,
                                 const ModelWeights& weights, uint64_t max_shard_bytes) {
  ModelWeights copy = weights;
  std::vector<std::vector<std::pair<std::string, torch::Tensor>>> shards(1);
  uint64_t shard_bytes = 0;
  for (const WeightSlot& slot : copy.Slots(config)) {
    if (slot.optional && slot.tensor->is_same(copy.text.embed_tokens)) continue;  // tied head
    const uint64_t bytes = slot.tensor->numel() * slot.tensor->element_size();
    if (shard_bytes > 0 && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace_back(SavedTensorName(slot.name), *slot.tensor);
    shard_bytes += bytes;
  }
  std::error_code ec;
  fs::create_directories(model_dir, ec);
  MG_RETURN_IF_ERROR(WriteStringAtomically(model_dir / "config.json", ModelConfigToJson(config)));
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  if (shards.size() == 1) return WriteSafetensors(model_dir / kSingleFile, shards[0], metadata);
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    MG_RETURN_IF_ERROR(WriteSafetensors(model_dir / name, shards[i], metadata));
    for (const auto& [tensor_name, t] : shards[i]) weight_map[tensor_name] = name;
  }
  json index = {{"metadata", json::object()}, {"weight_map", weight_map}};
  return WriteStringAtomically(model_dir / kIndexFile, index.dump(2));
}

}  // namespace medgemma
