#!/usr/bin/env bash
# Configure and build on the GPU machine with its CUDA libtorch, from the same CMake files as the
# CPU build. Usage (device command): source .device/setup.sh && bash tools/device/build.sh [targets]
set -euo pipefail
source .device/setup-extra.sh
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DMEDGEMMA_REQUIRE_CUDA=ON -DProtobuf_INCLUDE_DIR=/usr/include \
  -DProtobuf_LIBRARY=/usr/lib/x86_64-linux-gnu/libprotobuf.so -DProtobuf_PROTOC_EXECUTABLE=/usr/bin/protoc \
  > build-gpu.log 2>&1 || { tail -40 build-gpu.log; exit 1; }
ninja -C build-gpu "$@" >> build-gpu.log 2>&1 || { grep -E "error|FAILED" -A3 build-gpu.log | head -60; exit 1; }
echo "build-gpu: built ${*:-all}"
