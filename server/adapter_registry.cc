#include "server/adapter_registry.h"

#include <absl/strings/str_cat.h>

#include <chrono>

#include "base/log.h"
#include "base/status_macros.h"

namespace medgemma::server {
namespace fs = std::filesystem;

AdapterRegistry::AdapterRegistry(std::shared_ptr<const Gemma3Model> model, std::vector<fs::path> roots)
    : model_(std::move(model)), roots_(std::move(roots)) {}

absl::Status AdapterRegistry::CheckPathAllowed(const fs::path& path) const {
  if (auto outside = AdapterPathOutsideRoots(path, roots_)) {
    return absl::PermissionDeniedError(
        absl::StrCat("adapter path ", outside->string(), " is outside the configured adapter roots"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AdapterHandle> AdapterRegistry::Load(const std::string& name, const std::string& path, bool set_default) {
  MG_ASSIGN_OR_RETURN(AdapterHandle prepared, Prepare(name, path));
  return Publish(std::move(prepared), set_default);
}

absl::StatusOr<AdapterHandle> AdapterRegistry::Prepare(const std::string& name, const std::string& path) const {
  MG_RETURN_IF_ERROR(ValidateAdapterName(name));
  if (path.empty()) return absl::InvalidArgumentError("adapter path is empty");
  MG_RETURN_IF_ERROR(CheckPathAllowed(path));
  MG_ASSIGN_OR_RETURN(auto adapter, LoraAdapter::Load(path, model_->weights(), model_->options().device));
  auto served = std::make_shared<ServedAdapter>();
  served->name = name;
  served->path = path;
  served->adapter = std::move(adapter);
  served->loaded_at = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  return AdapterHandle(std::move(served));
}

AdapterHandle AdapterRegistry::Publish(AdapterHandle served, bool set_default) {
  const std::string& name = served->name;
  bool replaced;
  {
    std::lock_guard<std::mutex> lock(mu_);
    replaced = adapters_.count(name) > 0;
    adapters_[name] = served;
    if (set_default) default_ = name;
    ++swaps_;
  }
  LogInfo("adapter loaded", {{"name", name},
                             {"version", served->adapter->version()},
                             {"path", served->path},
                             {"replaced", replaced},
                             {"default", set_default}});
  return served;
}

absl::Status AdapterRegistry::Unload(const std::string& name) {
  AdapterHandle unloaded;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = adapters_.find(name);
    if (it == adapters_.end()) return absl::NotFoundError(absl::StrCat("adapter '", name, "' is not loaded"));
    if (default_ == name) {
      return absl::FailedPreconditionError(absl::StrCat("adapter '", name, "' is the default; set another default first"));
    }
    unloaded = it->second;
    adapters_.erase(it);  // requests already holding it finish on it
  }
  LogInfo("adapter unloaded", {{"name", name}, {"version", unloaded->adapter->version()}});
  return absl::OkStatus();
}

absl::StatusOr<AdapterHandle> AdapterRegistry::SetDefault(const std::string& name) {
  AdapterHandle handle;  // stays null for the base model
  std::string previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!name.empty()) {
      auto it = adapters_.find(name);
      if (it == adapters_.end()) return absl::NotFoundError(absl::StrCat("adapter '", name, "' is not loaded"));
      handle = it->second;
    }
    previous = default_;
    default_ = name;
    ++swaps_;
  }
  LogInfo("default adapter changed", {{"from", previous.empty() ? "(base model)" : previous},
                                      {"to", name.empty() ? "(base model)" : name},
                                      {"version", handle ? handle->adapter->version() : ""}});
  return handle;
}

absl::StatusOr<AdapterHandle> AdapterRegistry::Resolve(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string& wanted = name.empty() ? default_ : name;
  if (wanted.empty()) return AdapterHandle();
  auto it = adapters_.find(wanted);
  if (it == adapters_.end()) return absl::NotFoundError(absl::StrCat("adapter '", wanted, "' is not loaded"));
  return it->second;
}

std::vector<AdapterHandle> AdapterRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AdapterHandle> out;
  for (const auto& [name, handle] : adapters_) out.push_back(handle);
  return out;
}

std::string AdapterRegistry::default_name() const {
  std::lock_guard<std::mutex> lock(mu_);
  return default_;
}

int64_t AdapterRegistry::swaps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return swaps_;
}

}  // namespace medgemma::server
