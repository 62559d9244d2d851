// Data set ingestion: BreakHis' Folds.csv and folder labels, balancing, manifests, and every kind
// of bad input named in one INVALID_ARGUMENT, including paths that escape the data roots.
#include <gtest/gtest.h>

#include <map>

#include "client/demo_data.h"
#include "base/file_util.h"
#include "engine/training/dataset.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cli::DemoDataOptions o;
    o.images_per_patient = 1;
    o.width = 48;
    o.height = 32;
    ASSERT_TRUE(cli::WriteDemoData(root(), o).ok());
  }
  fs::path root() const { return dir_.path() / "data"; }
  std::vector<fs::path> roots() const { return {root()}; }
  TempDir dir_;
  Task task_ = DefaultBreakHisTask();
};

TEST_F(DatasetTest, ReadsFoldMagnificationAndLabelsFromTheTree) {
  auto splits = LoadBreakHis({root(), "", 1, 100, true}, task_, roots(), 1);
  ASSERT_TRUE(splits.ok()) << splits.status();
  EXPECT_EQ(splits->train.size(), 32u);  // 8 types x 4 training patients x 1 image
  EXPECT_EQ(splits->eval.size(), 8u);
  for (const auto& image : splits->train) {
    const std::string path = image.path.string();
    const std::string& name = task_.labels[image.label].name;
    const std::string type = name.substr(name.find('_') + 1);
    EXPECT_NE(path.find("/SOB/" + type + "/"), std::string::npos) << path << " labelled " << name;
    EXPECT_NE(path.find("/100X/"), std::string::npos);
  }
}

TEST_F(DatasetTest, BalancingUndersamplesTheLargerGroupWithASeed) {
  std::vector<LabeledImage> images;
  for (int i = 0; i < 30; ++i) images.push_back({"img" + std::to_string(i), i < 20 ? 4 + i % 4 : i % 4});
  const auto a = BalanceGroups(images, task_, 5);
  std::map<std::string, int> groups;
  for (const auto& im : a) ++groups[task_.labels[im.label].group];
  EXPECT_EQ(groups["benign"], 10);
  EXPECT_EQ(groups["malignant"], 10);
  EXPECT_EQ(BalanceGroups(images, task_, 5).size(), a.size());
  EXPECT_EQ(BalanceGroups(images, task_, 5)[3].path, a[3].path);
}

TEST_F(DatasetTest, MissingFilesAndUnknownTypesAreNamedByRow) {
  auto splits = LoadBreakHis({root(), "", 1, 100, true}, task_, roots(), 1);
  ASSERT_TRUE(splits.ok());
  fs::remove(splits->train[0].path);
  auto missing = LoadBreakHis({root(), "", 1, 100, true}, task_, roots(), 1);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos) << missing.status();
  EXPECT_NE(missing.status().message().find("row "), std::string::npos);

  ASSERT_TRUE(WriteStringAtomically(root() / "Folds.csv",
                                    "fold,mag,grp,filename\n1,100,train,x/benign/SOB/unknown_type/p/100X/a.png\n")
                  .ok());
  auto unknown = LoadBreakHis({root(), "", 1, 100, true}, task_, roots(), 1);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("Folds.csv row 2: no task label"), std::string::npos) << unknown.status();
}

TEST_F(DatasetTest, EmptySplitsAndBadSelectorsAreRejected) {
  EXPECT_EQ(LoadBreakHis({root(), "", 9, 100, true}, task_, roots(), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadBreakHis({root(), "", 1, 150, true}, task_, roots(), 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(WriteStringAtomically(root() / "Folds.csv", "fold,mag,grp,filename\n").ok());
  auto empty = LoadBreakHis({root(), "", 1, 100, true}, task_, roots(), 1);
  EXPECT_NE(empty.status().message().find("no train rows"), std::string::npos) << empty.status();
}

TEST_F(DatasetTest, PathsMustStayInsideTheDataRoots) {
  const fs::path outside = dir_.path() / "outside";
  fs::create_directories(outside);
  ASSERT_TRUE(WriteStringAtomically(outside / "secret.png", testing::RandomPng(8, 8, 1)).ok());
  // A root outside, a ".." escape and a symlink escape.
  EXPECT_NE(LoadBreakHis({outside, "", 1, 100, true}, task_, roots(), 1).status().message().find("outside"),
            std::string::npos);
  ASSERT_TRUE(WriteStringAtomically(root() / "dots.csv", "path,label\n../outside/secret.png,0\n").ok());
  fs::create_symlink(outside / "secret.png", root() / "link.png");
  ASSERT_TRUE(WriteStringAtomically(root() / "link.csv", "path,label\nlink.png,0\n").ok());
  for (const char* csv : {"dots.csv", "link.csv"}) {
    auto s = LoadManifest({root() / csv, root() / csv}, task_, roots());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << csv;
    EXPECT_NE(s.status().message().find("outside the data roots"), std::string::npos) << s.status();
  }
}

TEST_F(DatasetTest, ManifestsTakeLabelNamesOrIndicesAndNameBadRows) {
  auto splits = LoadBreakHis({root(), "", 1, 100, true}, task_, roots(), 1);
  ASSERT_TRUE(splits.ok());
  const std::string a = fs::relative(splits->train[0].path, root()).string();
  const std::string b = fs::relative(splits->train[1].path, root()).string();
  ASSERT_TRUE(WriteStringAtomically(root() / "good.csv", "path,label\n" + a + ",benign_adenosis\n" + b + ",5\n").ok());
  auto good = LoadManifest({root() / "good.csv", root() / "good.csv"}, task_, roots());
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->train[0].label, 0);
  EXPECT_EQ(good->train[1].label, 5);
  ASSERT_TRUE(WriteStringAtomically(root() / "bad.csv", "path,label\n" + a + ",cat\n" + b + "\n").ok());
  auto bad = LoadManifest({root() / "good.csv", root() / "bad.csv"}, task_, roots());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("bad.csv row 2: unknown label 'cat'"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("bad.csv row 3: expected 'path,label'"), std::string::npos);
}

// Real CSV: a quoted path with a comma and doubled quotes, CRLF and a byte-order mark, in a manifest
// and in Folds.csv; bad quoting is an INVALID_ARGUMENT naming the file and the line.
TEST_F(DatasetTest, QuotedPathsWithCommasLoadFromManifestsAndFolds) {
  const fs::path odd_dir = root() / "scans, 2024";
  fs::create_directories(odd_dir);
  ASSERT_TRUE(WriteStringAtomically(odd_dir / "a \"b\".png", testing::RandomPng(8, 8, 1)).ok());
  ASSERT_TRUE(WriteStringAtomically(root() / "quoted.csv",
                                    "\xEF\xBB\xBFpath,label\r\n\"scans, 2024/a \"\"b\"\".png\",benign_adenosis\r\n")
                  .ok());
  auto manifest = LoadManifest({root() / "quoted.csv", root() / "quoted.csv"}, task_, roots());
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ASSERT_EQ(manifest->train.size(), 1u);
  EXPECT_EQ(manifest->train[0].path, odd_dir / "a \"b\".png");
  EXPECT_EQ(manifest->train[0].label, 0);

  const fs::path patient = fs::path("BreaKHis_v1/breast/benign/SOB/adenosis/SOB_B_A, 1/100X");
  fs::create_directories(root() / patient);
  ASSERT_TRUE(WriteStringAtomically(root() / patient / "x.png", testing::RandomPng(8, 8, 2)).ok());
  ASSERT_TRUE(WriteStringAtomically(root() / patient / "y.png", testing::RandomPng(8, 8, 3)).ok());
  ASSERT_TRUE(WriteStringAtomically(root() / "QuotedFolds.csv",
                                    "fold,mag,grp,filename\r\n1,100,train,\"" + (patient / "x.png").string() +
                                        "\"\r\n1,100,test,\"" + (patient / "y.png").string() + "\"\r\n")
                  .ok());
  auto folds = LoadBreakHis({root(), "QuotedFolds.csv", 1, 100, false}, task_, roots(), 1);
  ASSERT_TRUE(folds.ok()) << folds.status();
  ASSERT_EQ(folds->train.size(), 1u);
  EXPECT_EQ(folds->train[0].path, root() / patient / "x.png");
  EXPECT_EQ(task_.labels[folds->train[0].label].name, "benign_adenosis");

  ASSERT_TRUE(WriteStringAtomically(root() / "open.csv", "path,label\n\"scans, 2024/a.png,0\n").ok());
  auto open = LoadManifest({root() / "open.csv", root() / "open.csv"}, task_, roots());
  EXPECT_EQ(open.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(open.status().message().find("open.csv: line 2: a quoted field is never closed"), std::string::npos)
      << open.status();
  ASSERT_TRUE(WriteStringAtomically(root() / "Folds.csv", "fold,mag,grp,filename\n1,100,train,\"a\"b\n").ok());
  auto after_quote = LoadBreakHis({root(), "", 1, 100, true}, task_, roots(), 1);
  EXPECT_EQ(after_quote.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(after_quote.status().message().find("Folds.csv: line 2: 'b' after a closing quote"), std::string::npos)
      << after_quote.status();
}

// What fast validation of big manifests must keep: every row's file checked on its own, by row,
// however many rows share a directory. A symlinked directory or file leading out of the roots and
// a ".." escape are refused, symlinks that stay inside are fine, and a missing file or a directory
// in place of a file is named with its row.
TEST_F(DatasetTest, EveryRowIsCheckedAgainstTheRootsAndTheDisk) {
  const fs::path outside = dir_.path() / "outside";
  fs::create_directories(outside / "sub");
  ASSERT_TRUE(WriteStringAtomically(outside / "secret.png", testing::RandomPng(8, 8, 1)).ok());
  const fs::path images = root() / "images";
  fs::create_directories(images / "sub");
  ASSERT_TRUE(WriteStringAtomically(images / "a.png", testing::RandomPng(8, 8, 2)).ok());
  fs::create_directory_symlink(outside, root() / "escape");
  fs::create_directory_symlink(images, root() / "alias");
  fs::create_symlink(outside / "secret.png", images / "out.png");
  fs::create_symlink(images / "a.png", images / "in.png");

  ASSERT_TRUE(WriteStringAtomically(root() / "fine.csv", "path,label\nimages/a.png,0\nalias/a.png,1\n"
                                                         "images/in.png,2\nalias/../images/a.png,3\n")
                  .ok());
  auto fine = LoadManifest({root() / "fine.csv", root() / "fine.csv"}, task_, roots());
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->train.size(), 4u);

  ASSERT_TRUE(WriteStringAtomically(root() / "mixed.csv", "path,label\n"
                                                          "images/a.png,0\n"           // row 2: fine
                                                          "escape/secret.png,0\n"      // row 3
                                                          "images/missing.png,0\n"     // row 4
                                                          "images/out.png,0\n"         // row 5
                                                          "images/../../outside/secret.png,0\n"  // row 6
                                                          "images/sub,0\n"             // row 7
                                                          "images/a.png,0\n"           // row 8: fine
                                                          "escape/sub/../secret.png,0\n")  // row 9
                  .ok());
  auto mixed = LoadManifest({root() / "mixed.csv", root() / "mixed.csv"}, task_, roots());
  ASSERT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(mixed.status().message());
  for (const std::string expected :
       {"row 3: " + (root() / "escape/secret.png").string() + " is outside the data roots",
        "row 4: " + (images / "missing.png").string() + " does not exist",
        "row 5: " + (images / "out.png").string() + " is outside the data roots",
        "row 6: " + (images / "../../outside/secret.png").string() + " is outside the data roots",
        "row 7: " + (images / "sub").string() + " does not exist",
        "row 9: " + (root() / "escape/sub/../secret.png").string() + " is outside the data roots"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin: " << message;
  }
  EXPECT_EQ(message.find("row 2:"), std::string::npos) << message;
  EXPECT_EQ(message.find("row 8:"), std::string::npos) << message;
}

}  // namespace
}  // namespace medgemma
