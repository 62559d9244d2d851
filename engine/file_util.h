// Small filesystem helpers with Status errors; atomic writes for everything the engine saves.
#pragma once

#include <absl/status/statusor.h>

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace medgemma {

absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path);

// Writes through `write` into a temporary sibling, fsyncs it and renames it over `path`, so a
// reader (or a crash) sees either the old file or the complete new one.
absl::Status WriteFileAtomically(const std::filesystem::path& path,
                                 const std::function<absl::Status(std::ostream&)>& write);
absl::Status WriteStringAtomically(const std::filesystem::path& path, const std::string& contents);
// fsyncs a directory, making the renames and creations inside it durable.
absl::Status SyncDirectory(const std::filesystem::path& dir);

// Removes a file or a directory tree; a missing path is not an error. (nftw, not
// std::filesystem::remove_all: on the GPU machine the latter binds to a broken copy that the torch
// wheel's libtorch.so exports.)
void RemoveTree(const std::filesystem::path& path);

// Whether `path`, with symlinks and ".." resolved, lies inside one of `roots` (also resolved).
// An empty list of roots allows everything.
bool IsUnderRoots(const std::filesystem::path& path, const std::vector<std::filesystem::path>& roots);

}  // namespace medgemma
