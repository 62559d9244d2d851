#include "tests/engine/test_support.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>
#include <unistd.h>

#include <random>

#include "base/file_util.h"
#include "engine/image_decoder.h"
#include "engine/tiny_model.h"

namespace medgemma::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("medgemma-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() { RemoveTree(path_); }

const fs::path& TinyModelDir() {
  static TempDir* dir = [] {
    auto* d = new TempDir();
    auto status = WriteTinyModel(d->path(), 1);
    if (!status.ok()) ADD_FAILURE() << status;
    return d;
  }();
  return dir->path();
}

const ModelBundle& TinyBundle() {
  static const ModelBundle* bundle = [] {
    ModelOptions options;
    options.attention = AttentionBackend::kEager;
    auto loaded = LoadModelBundle(TinyModelDir(), options);
    if (!loaded.ok()) ADD_FAILURE() << loaded.status();
    return new ModelBundle(*loaded);
  }();
  return *bundle;
}

std::string RandomPng(int width, int height, uint64_t seed) {
  cv::Mat image(height, width, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  std::vector<uchar> png;
  cv::imencode(".png", image, png);
  return std::string(png.begin(), png.end());
}

torch::Tensor RandomPixels(int64_t count, uint64_t seed) {
  std::vector<torch::Tensor> images;
  for (int64_t i = 0; i < count; ++i) {
    auto decoded = DecodeImage(RandomPng(70, 46, seed + i), ImageLimits{});
    EXPECT_TRUE(decoded.ok());
    auto pixels = PreprocessImage(*decoded, TinyBundle().preprocess);
    EXPECT_TRUE(pixels.ok());
    images.push_back(*pixels);
  }
  return torch::stack(images);
}

}  // namespace medgemma::testing
