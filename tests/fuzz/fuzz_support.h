// What several fuzz targets set up once per process: a scratch directory (removed at exit), the
// tiny model, and a file written from the input.
#pragma once

#include <filesystem>
#include <string_view>

#include "engine/model_bundle.h"

namespace medgemma::fuzz {

// A fresh directory for this process under $TMPDIR (tmpfs is fastest), removed at normal exit.
const std::filesystem::path& ScratchDir();
// The tiny checkpoint (seed 1) written under ScratchDir() and loaded on the CPU in float32.
const ModelBundle& TinyModel();
// A data set in BreakHis' layout under ScratchDir()/data, one empty image file per tumour type of
// fold 1 at 100X in each split: Folds.csv, manifests train.csv and eval.csv, and a symlink
// "outside" to the temp directory, which lies outside the root.
const std::filesystem::path& SmallBreakHis();
// Replaces `path` with `bytes` (not atomically: targets run one input at a time).
void WriteFile(const std::filesystem::path& path, std::string_view bytes);

}  // namespace medgemma::fuzz
