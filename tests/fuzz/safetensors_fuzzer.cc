// An untrusted adapter_model.safetensors: the 8-byte header length, the JSON header (dtypes,
// shapes, offsets, overlaps, metadata), then every tensor read from the mapping and converted.
#include <torch/torch.h>

#include "engine/safetensors.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/fuzz_target.h"

MEDGEMMA_FUZZ_TARGET(safetensors) {
  static const std::filesystem::path path = medgemma::fuzz::ScratchDir() / "input.safetensors";
  medgemma::fuzz::WriteFile(path, data);
  auto file = medgemma::SafetensorsFile::Open(path, 1u << 20);
  if (!file.ok()) return;
  for (const auto& [name, info] : file->tensors()) {
    MEDGEMMA_FUZZ_CHECK(info.begin <= info.end && 8 + info.end <= data.size());
    auto raw = file->Load(name);
    MEDGEMMA_FUZZ_CHECK(raw.ok());
    MEDGEMMA_FUZZ_CHECK(raw->sizes() == torch::IntArrayRef(info.shape));
    MEDGEMMA_FUZZ_CHECK(static_cast<uint64_t>(raw->nbytes()) == info.end - info.begin);
    auto converted = file->Load(name, torch::kCPU, torch::kFloat);
    MEDGEMMA_FUZZ_CHECK(converted.ok());
  }
}
