#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds everything, runs ctest on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j "$(nproc)"
