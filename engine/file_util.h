// Small filesystem helpers with Status errors; atomic writes for everything the engine saves.
#pragma once

#include <absl/status/statusor.h>

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace medgemma {

absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path);

// Writes through `write` into a temporary sibling, fsyncs it and renames it over `path`, so a
// reader (or a crash) sees either the old file or the complete new one.
absl::Status WriteFileAtomically(const std::filesystem::path& path,
                                 const std::function<absl::Status(std::ostream&)>& write);
absl::Status WriteStringAtomically(const std::filesystem::path& path, const std::string& contents);

}  // namespace medgemma
