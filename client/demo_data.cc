#include "client/demo_data.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <fstream>
#include <random>

#include "base/csv.h"
#include "base/file_util.h"
#include "base/status_macros.h"

namespace medgemma::cli {
namespace fs = std::filesystem;

namespace {
struct TumourType {
  const char* group;   // benign / malignant
  const char* folder;  // BreakHis folder name
  const char* code;    // BreakHis file-name code
  double hue;          // OpenCV hue, 0..180
  double angle;        // stripe direction, degrees
  int blobs;           // nuclei-like dark blobs per image
};
constexpr TumourType kTypes[] = {
    {"benign", "adenosis", "A", 10, 0, 10},
    {"benign", "fibroadenoma", "F", 30, 45, 40},
    {"benign", "phyllodes_tumor", "PT", 55, 90, 10},
    {"benign", "tubular_adenoma", "TA", 80, 135, 40},
    {"malignant", "ductal_carcinoma", "DC", 105, 0, 120},
    {"malignant", "lobular_carcinoma", "LC", 125, 45, 10},
    {"malignant", "mucinous_carcinoma", "MC", 150, 90, 120},
    {"malignant", "papillary_carcinoma", "PC", 170, 135, 40},
};
constexpr int kMagnifications[] = {40, 100, 200, 400};

cv::Mat Texture(const TumourType& type, const DemoDataOptions& o, std::mt19937_64& rng) {
  std::normal_distribution<double> jitter(0.0, 1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  cv::Mat hsv(o.height, o.width, CV_8UC3);
  const double angle = (type.angle + 8 * jitter(rng)) * M_PI / 180.0;
  const double period = 90 + 15 * jitter(rng), phase = 2 * M_PI * unit(rng);
  const double hue = type.hue + 3 * jitter(rng);
  for (int y = 0; y < o.height; ++y) {
    auto* row = hsv.ptr<cv::Vec3b>(y);
    for (int x = 0; x < o.width; ++x) {
      const double t = (x * std::cos(angle) + y * std::sin(angle)) * 2 * M_PI / period + phase;
      const double stripe = 0.5 + 0.5 * std::sin(t);
      row[x] = cv::Vec3b(cv::saturate_cast<uchar>(std::fmod(hue + 180, 180)), cv::saturate_cast<uchar>(90 + 110 * stripe),
                         cv::saturate_cast<uchar>(150 + 80 * stripe));
    }
  }
  cv::Mat bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  std::uniform_int_distribution<int> px(0, o.width - 1), py(0, o.height - 1);
  for (int i = 0; i < type.blobs; ++i) {
    cv::circle(bgr, {px(rng), py(rng)}, 6 + static_cast<int>(4 * unit(rng)), cv::Scalar(70, 30, 60), cv::FILLED,
               cv::LINE_AA);
  }
  cv::Mat noise(bgr.size(), CV_8UC3);
  cv::randn(noise, cv::Scalar::all(0), cv::Scalar::all(3));
  return bgr + noise;
}
}  // namespace

absl::Status WriteDemoData(const fs::path& root, const DemoDataOptions& o) {
  if (o.patients_per_type < 5) return absl::InvalidArgumentError("patients_per_type must be >= 5 (one per fold)");
  std::mt19937_64 rng(o.seed);
  std::string folds = FormatCsvRecord({"fold", "mag", "grp", "filename"});
  for (const TumourType& type : kTypes) {
    for (int patient = 0; patient < o.patients_per_type; ++patient) {
      const std::string slide = absl::StrFormat("%d-%05d", 14 + patient % 3, 10000 + 137 * patient + static_cast<int>(type.hue));
      const std::string patient_dir = absl::StrCat("SOB_", type.group[0] == 'b' ? "B" : "M", "_", type.code, "_", slide);
      for (int mag : kMagnifications) {
        const fs::path rel = fs::path("BreaKHis_v1/histology_slides/breast") / type.group / "SOB" / type.folder /
                             patient_dir / absl::StrCat(mag, "X");
        std::error_code ec;
        fs::create_directories(root / rel, ec);
        if (ec) return absl::InternalError(absl::StrCat("create ", (root / rel).string(), ": ", ec.message()));
        for (int i = 1; i <= o.images_per_patient; ++i) {
          const std::string name = absl::StrFormat("SOB_%s_%s-%s-%d-%03d.png", type.group[0] == 'b' ? "B" : "M",
                                                   type.code, slide, mag, i);
          if (!cv::imwrite((root / rel / name).string(), Texture(type, o, rng))) {
            return absl::InternalError(absl::StrCat("cannot write ", (root / rel / name).string()));
          }
          for (int fold = 1; fold <= 5; ++fold) {
            // Patient-wise folds, as BreakHis' own: one patient in five is in each fold's test split.
            const bool test = patient % 5 == fold - 1;
            absl::StrAppend(&folds, FormatCsvRecord({absl::StrCat(fold), absl::StrCat(mag), test ? "test" : "train",
                                                     (rel / name).string()}));
          }
        }
      }
    }
  }
  return WriteStringAtomically(root / "Folds.csv", folds);
}

}  // namespace medgemma::cli
