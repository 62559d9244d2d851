#!/usr/bin/env bash
# Configure (once) and build. Usage: scripts/build.sh [ninja targets...]; the tree lands in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja -C build "$@"
