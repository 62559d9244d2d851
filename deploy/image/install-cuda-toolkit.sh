#!/usr/bin/env bash
# A CUDA toolkit for building the CUDA sources, from PyPI alone: nvcc and its headers
# (cuda-compiler-requirements.txt) plus the runtime libraries and headers the CUDA torch wheel
# installed into VENV, laid out as CMake's FindCUDAToolkit expects (bin, include, lib, lib64,
# nvvm, targets/x86_64-linux, lib/stubs/libcuda.so). Nothing is downloaded from NVIDIA and no
# driver is needed: the stub only satisfies the link of libtorch's CUDA::cuda_driver target, the
# real libcuda comes with the driver at run time.
# Usage: install-cuda-toolkit.sh VENV PREFIX     e.g. .venv /usr/local/cuda-13.0
set -euo pipefail
venv=$(cd "$1" && pwd -P)
prefix=$2
here=$(cd "$(dirname "$0")" && pwd)
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
runtime=$site/nvidia/cu13
[ -f "$runtime/include/cuda_runtime.h" ] || { echo "install-cuda-toolkit: $venv has no CUDA torch wheel runtime ($runtime)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --target "$stage" -r "$here/cuda-compiler-requirements.txt"
rm -rf "$prefix"
mkdir -p "$prefix"
cp -a "$stage/nvidia/cu13/." "$prefix/"

# The venv's runtime headers and libraries (cuDNN's too), each entry linked where the compiler
# wheels left none.
link_entries() {  # FROM_DIR TO_DIR
  [ -d "$1" ] || return 0
  mkdir -p "$2"
  for entry in "$1"/*; do
    [ -e "$2/$(basename "$entry")" ] || ln -s "$entry" "$2/$(basename "$entry")"
  done
}
link_entries "$runtime/include" "$prefix/include"
link_entries "$runtime/lib" "$prefix/lib"
link_entries "$site/nvidia/cudnn/include" "$prefix/include"
link_entries "$site/nvidia/cudnn/lib" "$prefix/lib"
# Link-time names (libcudart.so) for the wheels' run-time ones (libcudart.so.13).
for lib in "$prefix"/lib/lib*.so.*; do
  dev=${lib%%.so.*}.so
  [ -e "$dev" ] || ln -s "$(basename "$lib")" "$dev"
done
ln -sfn lib "$prefix/lib64"
mkdir -p "$prefix/targets/x86_64-linux" "$prefix/lib/stubs"
ln -sfn ../../include "$prefix/targets/x86_64-linux/include"
ln -sfn ../../lib "$prefix/targets/x86_64-linux/lib"
echo 'void cuda_driver_stub(void) {}' | cc -shared -fPIC -Wl,-soname,libcuda.so.1 -x c -o "$prefix/lib/stubs/libcuda.so" -
"$prefix/bin/nvcc" --version | tail -2
