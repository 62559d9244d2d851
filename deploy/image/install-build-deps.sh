#!/usr/bin/env bash
# The image's build stage: the Debian packages and the project venv (scripts/install-deps.sh), with
# libtorch as the variant wants it, and for cuda the CUDA compiler (install-cuda-toolkit.sh) at
# CUDA_PREFIX, linked as the `cuda` directory next to it, where CMake looks by default.
# Usage: install-build-deps.sh cuda|cpu [CUDA_PREFIX]   (default /usr/local/cuda-13.0)
#   cpu: the torch wheel comes from $MEDGEMMA_CPU_TORCH_INDEX (default PyTorch's CPU index): a
#   libtorch without CUDA, about 3 GB less image.
set -euo pipefail
variant=$1 cuda_prefix=${2:-/usr/local/cuda-13.0}
repo=$(cd "$(dirname "$0")/../.." && pwd)
case $variant in
  cuda)
    bash "$repo/scripts/install-deps.sh"
    bash "$repo/deploy/image/install-cuda-toolkit.sh" "$repo/.venv" "$cuda_prefix"
    ln -sfn "$(basename "$cuda_prefix")" "$(dirname "$cuda_prefix")/cuda"
    ;;
  cpu)
    MEDGEMMA_TORCH_INDEX_URL=${MEDGEMMA_CPU_TORCH_INDEX:-https://download.pytorch.org/whl/cpu} \
      bash "$repo/scripts/install-deps.sh"
    ;;
  *) echo "install-build-deps: variant is cuda or cpu, not '$variant'" >&2; exit 2 ;;
esac
