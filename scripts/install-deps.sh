#!/usr/bin/env bash
# Installs every Debian 12 package the project builds, tests and runs with, then the project venv
# (scripts/install-venv.sh: torch/libtorch, transformers, peft from PyPI). Idempotent: packages
# already present are skipped. Run as root (or with sudo available).
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libc-ares-dev libre2-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libtiff-dev
  prometheus-cpp-dev libcivetweb-dev civetweb
  libyaml-cpp-dev libgtest-dev libgmock-dev nlohmann-json3-dev libsqlite3-dev
  sentencepiece python3-sentencepiece python3-grpcio python3-grpc-tools python3-numpy
  prometheus openssl libssl-dev python3-venv
  kubernetes-client docker-compose python3-yaml  # tests/deploy: kubectl kustomize, compose config, YAML
  libb64-0d  # perf_analyzer (scripts/python-requirements-integration.txt) links it
  libdcmtk-dev dcmtk  # DICOM input; dcmtk's tools make the tests' DICOM files
  clang libclang-rt-14-dev  # tests/fuzz: libFuzzer, ASan, UBSan (the fuzz CMake preset)
)
# Tools that may come from elsewhere (a cloud SDK's kubectl): present is enough.
declare -A provided_by_command=([kubernetes-client]=kubectl)
missing=()
for p in "${packages[@]}"; do
  [ -n "${provided_by_command[$p]:-}" ] && command -v "${provided_by_command[$p]}" >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
bash "$(dirname "$0")/install-venv.sh"
bash "$(dirname "$0")/install-integration-venv.sh"
