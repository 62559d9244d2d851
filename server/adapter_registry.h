// The adapters the server holds, as immutable versions behind shared_ptr (TF Serving's servable
// handles): a request resolves its adapter once, at admission, and keeps that version alive until
// its batch has run, whatever loads, swaps or unloads happen meanwhile. Loading and validation
// run in Prepare, off the batcher's thread (and off gRPC's: see AdapterLoader); only Publish takes
// the lock.
#pragma once

#include <absl/status/statusor.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/gemma3_model.h"
#include "engine/lora_adapter.h"

namespace medgemma::server {

struct ServedAdapter {
  std::string name;
  std::string path;
  std::shared_ptr<const LoraAdapter> adapter;
  int64_t loaded_at = 0;  // unix seconds
};
// nullptr: the base model.
using AdapterHandle = std::shared_ptr<const ServedAdapter>;

class AdapterRegistry {
 public:
  // `roots`: directories LoadAdapter paths must lie under (symlinks resolved); empty: any path.
  AdapterRegistry(std::shared_ptr<const Gemma3Model> model, std::vector<std::filesystem::path> roots);

  // Validates against the base model, then publishes, replacing any adapter of the same name.
  // INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION leave what was served untouched.
  absl::StatusOr<AdapterHandle> Load(const std::string& name, const std::string& path, bool set_default);
  // Load's two halves: the checks and file reads, which change nothing served; then the swap.
  absl::StatusOr<AdapterHandle> Prepare(const std::string& name, const std::string& path) const;
  AdapterHandle Publish(AdapterHandle prepared, bool set_default);
  absl::Status Unload(const std::string& name);
  // Empty name: the base model.
  absl::StatusOr<AdapterHandle> SetDefault(const std::string& name);
  // Empty name: the current default. NOT_FOUND for names not loaded.
  absl::StatusOr<AdapterHandle> Resolve(const std::string& name) const;

  std::vector<AdapterHandle> List() const;
  std::string default_name() const;
  int64_t swaps() const;

 private:
  absl::Status CheckPathAllowed(const std::filesystem::path& path) const;

  std::shared_ptr<const Gemma3Model> model_;
  std::vector<std::filesystem::path> roots_;
  mutable std::mutex mu_;
  std::map<std::string, AdapterHandle> adapters_;
  std::string default_;
  int64_t swaps_ = 0;
};


}  // namespace medgemma::server
