// Reading and writing the safetensors format. Files are memory-mapped and every header field is
// validated before any byte of tensor data is touched, so a truncated or lying file is an error
// that names the problem, never an out-of-bounds read.
#pragma once

#include <absl/status/statusor.h>
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace medgemma {

struct TensorInfo {
  std::string name;
  torch::ScalarType dtype;
  std::string dtype_name;  // as written in the header ("BF16", ...)
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // offsets relative to the start of the data section
  uint64_t end = 0;
};

class MappedFile;

class SafetensorsFile {
 public:
  // Refuses anything but a regular file of at most `max_bytes`.
  static absl::StatusOr<SafetensorsFile> Open(const std::filesystem::path& path,
                                              uint64_t max_bytes = std::numeric_limits<uint64_t>::max());

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool Contains(const std::string& name) const { return tensors_.count(name) > 0; }
  // The whole file as mapped (header and data), e.g. to hash exactly what the tensors come from.
  std::string_view bytes() const;

  // The tensor converted to `device` and `dtype`. When neither changes anything on the CPU the
  // result shares the (copy-on-write) mapping, which stays alive as long as the tensor does.
  absl::StatusOr<torch::Tensor> Load(const std::string& name, torch::Device device,
                                     torch::ScalarType dtype) const;
  // The tensor in its stored dtype, on the CPU.
  absl::StatusOr<torch::Tensor> Load(const std::string& name) const;

 private:
  std::filesystem::path path_;
  std::shared_ptr<MappedFile> file_;
  uint64_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Parses and validates a header given the whole file size; exposed for tests of the validation.
absl::StatusOr<std::map<std::string, TensorInfo>> ParseSafetensorsHeader(
    const std::string& header_json, uint64_t data_size, std::map<std::string, std::string>* metadata);

// Writes tensors (any device/dtype among the supported ones) atomically, in name order.
absl::Status WriteSafetensors(const std::filesystem::path& path,
                              const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace medgemma
