// Small filesystem helpers with Status errors; atomic writes for everything the engine saves.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace medgemma {

// The default bound on one read: config files, tokenizers, CSVs and PEMs are far smaller.
inline constexpr uint64_t kDefaultMaxReadBytes = uint64_t{256} << 20;

// Opens `path` for reading as a regular file (symlinks followed; devices, FIFOs and sockets are
// refused without blocking) whose size is at most `max_bytes`. Returns the descriptor, which the
// caller closes, and sets `*size`.
absl::StatusOr<int> OpenRegularFile(const std::filesystem::path& path, uint64_t max_bytes, uint64_t* size);
// The whole file, opened as OpenRegularFile does.
absl::StatusOr<std::string> ReadFileToString(const std::filesystem::path& path,
                                             uint64_t max_bytes = kDefaultMaxReadBytes);

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
