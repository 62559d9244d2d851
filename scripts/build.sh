#!/usr/bin/env bash
# Configure (when needed) and build. Usage: scripts/build.sh [ninja targets...]; the tree lands in
# build/. libtorch is the project venv's torch wheel (a CUDA build that also runs on CPU), so every
# machine compiles the same code as the GPU machine, CUDA sources included (they compile here and
# run only where a GPU is).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/install-venv.sh
torch_prefix=$(.venv/bin/python -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
if [ ! -f build/build.ninja ] || [ "$(cat build/.torch-prefix 2>/dev/null)" != "$torch_prefix" ]; then
  # No GPU here to detect an architecture from: build for the H100 (sm_90), the one we run on.
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_PREFIX_PATH="$torch_prefix" -DCMAKE_CUDA_ARCHITECTURES=90 -DMEDGEMMA_PYTHON="$PWD/.venv/bin/python" \
    -DMEDGEMMA_REQUIRE_CUDA="${MEDGEMMA_REQUIRE_CUDA:-OFF}"
  echo "$torch_prefix" > build/.torch-prefix
fi
ninja -C build "$@"
