#include "tests/fuzz/fuzz_support.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "base/file_util.h"
#include "engine/tiny_model.h"

namespace medgemma::fuzz {
namespace fs = std::filesystem;

const fs::path& ScratchDir() {
  static const fs::path* dir = [] {
    auto* path = new fs::path(fs::temp_directory_path() / ("medgemma-fuzz-" + std::to_string(::getpid())));
    fs::create_directories(*path);
    std::atexit([] { RemoveTree(ScratchDir()); });
    return path;
  }();
  return *dir;
}

const ModelBundle& TinyModel() {
  static const ModelBundle* bundle = [] {
    const fs::path dir = ScratchDir() / "tiny-model";
    absl::Status written = WriteTinyModel(dir, 1);
    ModelOptions options;
    options.attention = AttentionBackend::kEager;
    auto loaded = written.ok() ? LoadModelBundle(dir, options) : absl::StatusOr<ModelBundle>(written);
    if (!loaded.ok()) {
      std::cerr << "fuzz setup: tiny model: " << loaded.status() << "\n";
      std::abort();
    }
    return new ModelBundle(*std::move(loaded));
  }();
  return *bundle;
}

const fs::path& SmallBreakHis() {
  static const fs::path* root = [] {
    auto* path = new fs::path(ScratchDir() / "data");
    std::string folds = "fold,mag,grp,filename\n", train = "path,label\n", eval = "path,label\n";
    int patient = 0;
    for (const char* type : {"benign/SOB/adenosis", "benign/SOB/fibroadenoma", "benign/SOB/phyllodes_tumor",
                             "benign/SOB/tubular_adenoma", "malignant/SOB/ductal_carcinoma",
                             "malignant/SOB/lobular_carcinoma", "malignant/SOB/mucinous_carcinoma",
                             "malignant/SOB/papillary_carcinoma"}) {
      for (const char* split : {"train", "test"}) {
        const std::string image = "BreaKHis_v1/histology_slides/breast/" + std::string(type) + "/P" +
                                  std::to_string(++patient) + "/100X/image-100-001.png";
        fs::create_directories((*path / image).parent_path());
        WriteFile(*path / image, "png");
        folds += std::string("1,100,") + split + "," + image + "\n";
        (split == std::string("train") ? train : eval) += image + "," + std::to_string((patient - 1) / 2) + "\n";
      }
    }
    WriteFile(*path / "Folds.csv", folds);
    WriteFile(*path / "train.csv", train);
    WriteFile(*path / "eval.csv", eval);
    fs::create_symlink(fs::temp_directory_path(), *path / "outside");
    return path;
  }();
  return *root;
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::cerr << "fuzz setup: cannot write " << path << "\n";
    std::abort();
  }
}

}  // namespace medgemma::fuzz
