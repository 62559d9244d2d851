#include "engine/safetensors.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "base/file_util.h"
#include "engine/bounded_json.h"
#include "engine/torch_guard.h"

namespace medgemma {
namespace fs = std::filesystem;
using json = nlohmann::json;

class MappedFile {
 public:
  MappedFile(void* data, size_t size) : data_(data), size_(size) {}
  ~MappedFile() {
    if (data_ != nullptr && size_ > 0) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  uint8_t* mutable_data() const { return static_cast<uint8_t*>(data_); }
  size_t size() const { return size_; }

 private:
  void* data_;
  size_t size_;
};

namespace {
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DtypeEntry {
  const char* name;
  torch::ScalarType type;
  size_t itemsize;
};
constexpr DtypeEntry kDtypes[] = {
    {"BF16", torch::kBFloat16, 2}, {"F16", torch::kHalf, 2},  {"F32", torch::kFloat, 4},
    {"F64", torch::kDouble, 8},    {"I64", torch::kLong, 8},  {"I32", torch::kInt, 4},
    {"I16", torch::kShort, 2},     {"I8", torch::kChar, 1},   {"U8", torch::kByte, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeEntry* FindDtype(const std::string& name) {
  for (const auto& e : kDtypes) {
    if (name == e.name) return &e;
  }
  return nullptr;
}
const DtypeEntry* FindDtype(torch::ScalarType type) {
  for (const auto& e : kDtypes) {
    if (type == e.type) return &e;
  }
  return nullptr;
}

absl::Status Invalid(const std::string& what) { return absl::InvalidArgumentError(what); }

absl::StatusOr<TensorInfo> ParseEntry(const std::string& name, const json& entry, uint64_t data_size) {
  const std::string where = absl::StrCat("tensor '", name, "': ");
  if (!entry.is_object()) return Invalid(where + "header entry is not an object");
  if (!entry.contains("dtype") || !entry["dtype"].is_string()) return Invalid(where + "missing dtype");
  TensorInfo info;
  info.name = name;
  info.dtype_name = entry["dtype"].get<std::string>();
  const DtypeEntry* dtype = FindDtype(info.dtype_name);
  if (dtype == nullptr) {
    return absl::UnimplementedError(absl::StrCat(where, "unsupported dtype ", info.dtype_name));
  }
  info.dtype = dtype->type;
  if (!entry.contains("shape") || !entry["shape"].is_array()) return Invalid(where + "missing shape");
  uint64_t numel = 1;
  for (const auto& d : entry["shape"]) {
    if (!d.is_number_unsigned()) return Invalid(where + "shape has a non-integer or negative dimension");
    const uint64_t dim = d.get<uint64_t>();
    if (dim > 0 && numel > std::numeric_limits<uint64_t>::max() / dim / 8) {
      return Invalid(where + "shape overflows");
    }
    numel *= dim;
    info.shape.push_back(static_cast<int64_t>(dim));
  }
  const auto& offsets = entry.value("data_offsets", json());
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    return Invalid(where + "data_offsets must be two non-negative integers");
  }
  info.begin = offsets[0].get<uint64_t>();
  info.end = offsets[1].get<uint64_t>();
  if (info.begin > info.end || info.end > data_size) {
    return absl::DataLossError(absl::StrCat(where, "data_offsets [", info.begin, ", ", info.end,
                                            ") fall outside the ", data_size,
                                            "-byte data section (truncated file?)"));
  }
  if (info.end - info.begin != numel * dtype->itemsize) {
    return Invalid(absl::StrCat(where, "data_offsets span ", info.end - info.begin, " bytes but shape [",
                                absl::StrJoin(info.shape, ","), "] of ", info.dtype_name, " needs ",
                                numel * dtype->itemsize));
  }
  return info;
}
}  // namespace

absl::StatusOr<std::map<std::string, TensorInfo>> ParseSafetensorsHeader(
    const std::string& header_json, uint64_t data_size, std::map<std::string, std::string>* metadata) {
  MG_ASSIGN_OR_RETURN(const json header, ParseBoundedJson(header_json, "safetensors header"));
  if (!header.is_object()) return Invalid("safetensors header is not a JSON object");
  std::map<std::string, TensorInfo> tensors;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return Invalid("__metadata__ must be an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) return Invalid(absl::StrCat("__metadata__.", k, " must be a string"));
        if (metadata != nullptr) (*metadata)[k] = v.get<std::string>();
      }
      continue;
    }
    MG_ASSIGN_OR_RETURN(TensorInfo info, ParseEntry(name, entry, data_size));
    tensors.emplace(name, std::move(info));
  }
  std::vector<const TensorInfo*> by_offset;
  for (const auto& [name, info] : tensors) by_offset.push_back(&info);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i]->begin < by_offset[i - 1]->end) {
      return Invalid(absl::StrCat("tensors '", by_offset[i - 1]->name, "' and '", by_offset[i]->name,
                                  "' overlap in the data section"));
    }
  }
  return tensors;
}

std::string_view SafetensorsFile::bytes() const {
  return std::string_view(reinterpret_cast<const char*>(file_->data()), file_->size());
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const fs::path& path, uint64_t max_bytes) {
  uint64_t size = 0;
  MG_ASSIGN_OR_RETURN(const int fd, OpenRegularFile(path, max_bytes, &size));
  if (size < 8) {
    ::close(fd);
    return absl::DataLossError(absl::StrCat(path.string(), ": ", size, " bytes is too short for a safetensors file"));
  }
  // Private writable mapping: tensors that alias it may be modified in place without touching the file.
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) return absl::InternalError(absl::StrCat("mmap ", path.string(), ": ", std::strerror(errno)));
  auto file = std::make_shared<MappedFile>(data, size);

  uint64_t header_size = 0;
  std::memcpy(&header_size, file->data(), 8);  // little-endian on every platform we build for
  if (header_size > kMaxHeaderBytes || header_size > size - 8) {
    return absl::DataLossError(absl::StrCat(path.string(), ": header length ", header_size,
                                            " exceeds the file (", size, " bytes); truncated or not safetensors"));
  }
  SafetensorsFile out;
  out.path_ = path;
  out.file_ = file;
  out.data_start_ = 8 + header_size;
  const std::string header(reinterpret_cast<const char*>(file->data() + 8), header_size);
  auto tensors = ParseSafetensorsHeader(header, size - out.data_start_, &out.metadata_);
  if (!tensors.ok()) {
    return absl::Status(tensors.status().code(), absl::StrCat(path.string(), ": ", tensors.status().message()));
  }
  out.tensors_ = std::move(*tensors);
  return out;
}

absl::StatusOr<torch::Tensor> SafetensorsFile::Load(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat("tensor '", name, "' not in ", path_.string()));
  }
  const TensorInfo& info = it->second;
  return GuardTorch("safetensors load", [&]() -> absl::StatusOr<torch::Tensor> {
    uint8_t* ptr = file_->mutable_data() + data_start_ + info.begin;
    const size_t itemsize = FindDtype(info.dtype)->itemsize;
    auto options = torch::TensorOptions().dtype(info.dtype);
    if (reinterpret_cast<uintptr_t>(ptr) % itemsize != 0) {
      // Misaligned data cannot be viewed safely by vectorised kernels: copy it out.
      torch::Tensor copy = torch::empty(info.shape, options);
      // An empty tensor's data_ptr is null, and memcpy's arguments must not be even for 0 bytes.
      if (info.end > info.begin) std::memcpy(copy.data_ptr(), ptr, info.end - info.begin);
      return copy;
    }
    std::shared_ptr<MappedFile> keep_alive = file_;
    return torch::from_blob(ptr, info.shape, [keep_alive](void*) {}, options);
  });
}

absl::StatusOr<torch::Tensor> SafetensorsFile::Load(const std::string& name, torch::Device device,
                                                    torch::ScalarType dtype) const {
  MG_ASSIGN_OR_RETURN(torch::Tensor raw, Load(name));
  return GuardTorch("safetensors convert", [&]() -> absl::StatusOr<torch::Tensor> {
    const bool floating = torch::isFloatingType(raw.scalar_type());
    return raw.to(device, floating ? dtype : raw.scalar_type());
  });
}

absl::Status WriteSafetensors(const fs::path& path,
                              const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, torch::Tensor>> sorted = tensors;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<torch::Tensor> host;
  // Named references, not a structured binding: C++17 lambdas cannot capture those (clang refuses).
  for (const auto& entry : sorted) {
    const std::string& name = entry.first;
    const torch::Tensor& tensor = entry.second;
    const DtypeEntry* dtype = FindDtype(tensor.scalar_type());
    if (dtype == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has unsupported dtype ",
                                                     c10::toString(tensor.scalar_type())));
    }
    MG_ASSIGN_OR_RETURN(torch::Tensor cpu, GuardTorch("safetensors write", [&]() -> absl::StatusOr<torch::Tensor> {
      return tensor.detach().to(torch::kCPU).contiguous();
    }));
    const uint64_t bytes = static_cast<uint64_t>(cpu.numel()) * dtype->itemsize;
    header[name] = {{"dtype", dtype->name}, {"shape", cpu.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    host.push_back(cpu);
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  return WriteFileAtomically(path, [&](std::ostream& out) {
    const uint64_t n = header_text.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(header_text.data(), static_cast<std::streamsize>(n));
    for (const auto& t : host) {
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    }
    return absl::OkStatus();
  });
}

}  // namespace medgemma
