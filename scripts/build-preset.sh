#!/usr/bin/env bash
# Configure (when needed) and build one of CMakePresets.json's sanitizer presets in its own tree
# (build-asan-ubsan, build-tsan, build-fuzz). Usage: scripts/build-preset.sh PRESET [targets...];
# no targets: the preset's default (everything; `fuzzers` for fuzz). libtorch is the project
# venv's, as for scripts/build.sh; the presets take its CMake prefix from MEDGEMMA_TORCH_PREFIX.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:?usage: scripts/build-preset.sh asan-ubsan|tsan|fuzz [targets...]}
shift
[ -x .venv/bin/python ] || bash scripts/install-venv.sh
export MEDGEMMA_TORCH_PREFIX
MEDGEMMA_TORCH_PREFIX=$(.venv/bin/python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
# TSan needs an abseil built with it (scripts/build-absl-tsan.sh, once; the preset puts its prefix
# first in CMAKE_PREFIX_PATH).
if [ "$preset" = tsan ]; then
  MEDGEMMA_ABSL_TSAN_PREFIX=$(bash scripts/build-absl-tsan.sh)
  export MEDGEMMA_ABSL_TSAN_PREFIX
else
  unset MEDGEMMA_ABSL_TSAN_PREFIX
fi
dir=build-$preset
if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$dir/.torch-prefix" 2>/dev/null)" != "$MEDGEMMA_TORCH_PREFIX" ] ||
   [ "$(cat "$dir/.absl-prefix" 2>/dev/null)" != "${MEDGEMMA_ABSL_TSAN_PREFIX:-}" ]; then
  # --fresh: find_package's results (Torch_DIR, absl_DIR) are cached and would outlive a new prefix.
  cmake --preset "$preset" --fresh
  echo "$MEDGEMMA_TORCH_PREFIX" > "$dir/.torch-prefix"
  echo "${MEDGEMMA_ABSL_TSAN_PREFIX:-}" > "$dir/.absl-prefix"
fi
if [ $# -gt 0 ]; then
  cmake --build --preset "$preset" --target "$@"
else
  cmake --build --preset "$preset"
fi
