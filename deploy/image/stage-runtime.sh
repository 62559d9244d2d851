#!/usr/bin/env bash
# The runtime image's files, staged under DEST for the Dockerfile to copy: the three binaries and
# only the shared libraries they load (their ldd closure, plus what libtorch and cuDNN load with
# dlopen), the container configs, medgemma-init, and the state directories. glibc, libstdc++ and
# libgcc stay out: the runtime base image (debian:12-slim) has the same ones, and a second libc
# next to the system's loader cannot work.
# Usage: stage-runtime.sh cuda|cpu BIN_DIR DEST
#   DEST/opt/medgemma/{bin,lib}   binaries and libraries (the image sets LD_LIBRARY_PATH)
#   DEST/opt/medgemma/share/dcmtk DCMTK's data dictionaries (the image sets DCMDICTPATH)
#   DEST/etc/medgemma/            server.yaml, trainer.yaml (config/container), task-breakhis.yaml
#   DEST/var/lib/medgemma/        models, adapters, trainer, data (the image gives them to uid 10001)
#   DEST/run/secrets/medgemma/    where the token files are mounted (or written by medgemma-init)
set -euo pipefail
variant=$1 bin_dir=$2 dest=$3
repo=$(cd "$(dirname "$0")/../.." && pwd)
binaries=(medgemma-server medgemma-trainer medgemma-cli)
case $variant in cuda|cpu) ;; *) echo "stage-runtime: variant is cuda or cpu, not '$variant'" >&2; exit 2 ;; esac

mkdir -p "$dest/opt/medgemma/bin" "$dest/opt/medgemma/lib"
lib_dir=$dest/opt/medgemma/lib

# Hard links where DEST shares the file system (the Docker build stage, tests), copies elsewhere.
place() { ln -f "$1" "$2" 2>/dev/null || cp -f "$1" "$2"; }

# The base image's own libraries, which are never copied.
declare -A base_libs=()
while read -r f; do
  base_libs[$(basename "$f")]=1
done < <(dpkg -L libc6 libstdc++6 libgcc-s1 | grep -E '\.so(\.[0-9]+)*$')

# What each library loads with dlopen, by soname, next to it: libtorch_cuda's NVRTC shim and CUDA
# linear algebra, NVRTC's builtins, cuDNN's sub-libraries.
companions() {  # SONAME RESOLVED_PATH
  local dir f
  dir=$(dirname "$2")
  case $1 in
    libtorch_cuda.so) set -- "$dir"/libcaffe2_nvrtc.so "$dir"/libtorch_cuda_linalg.so ;;
    libnvrtc.so.*) set -- "$dir"/libnvrtc-builtins.so.* ;;
    libcudnn.so.*) set -- "$dir"/libcudnn_*.so.* ;;
    *) set -- ;;
  esac
  for f in "$@"; do [ -e "$f" ] && echo "$f"; done
  return 0
}

declare -A staged=()  # soname -> resolved path
stage_closure() {  # FILE: every library `ldd FILE` resolves, with their companions
  local name arrow path rest
  while read -r name arrow path rest; do
    [ "$arrow" = "=>" ] || continue
    if [ "$path" = "not" ]; then
      [ "$name" = libcuda.so.1 ] && continue  # the driver's: the NVIDIA container runtime mounts it
      echo "stage-runtime: $1 needs $name, which is not found" >&2
      exit 1
    fi
    [ -n "${base_libs[$name]:-}" ] && continue
    [ -n "${staged[$name]:-}" ] && continue
    staged[$name]=$path
    place "$(readlink -f "$path")" "$lib_dir/$name"
    local companion
    for companion in $(companions "$name" "$(readlink -f "$path")"); do
      [ -n "${staged[$(basename "$companion")]:-}" ] && continue
      staged[$(basename "$companion")]=$companion
      place "$(readlink -f "$companion")" "$lib_dir/$(basename "$companion")"
      stage_closure "$companion"
    done
  done < <(ldd "$1")
}

for b in "${binaries[@]}"; do
  place "$bin_dir/$b" "$dest/opt/medgemma/bin/$b"
  stage_closure "$bin_dir/$b"
done
install -m 0755 "$repo/deploy/image/medgemma-init.sh" "$dest/opt/medgemma/bin/medgemma-init"
# What medgemma-server loads for HTTPS on its HTTP port (server/civetweb_openssl_shim.cc), from
# lib/ beside bin/ as in the build tree.
for shim in libmedgemma-civetweb-libssl.so libmedgemma-civetweb-libcrypto.so; do
  [ -f "$bin_dir/../lib/$shim" ] || { echo "stage-runtime: $bin_dir/../lib/$shim is not built" >&2; exit 1; }
  place "$bin_dir/../lib/$shim" "$lib_dir/$shim"
  stage_closure "$bin_dir/../lib/$shim"
done

has_cuda=no
[ -n "${staged[libtorch_cuda.so]:-}" ] && [ -n "${staged[libcudart.so.13]:-}${staged[libcudart.so.12]:-}" ] && has_cuda=yes
if [ "$variant" = cuda ] && [ $has_cuda = no ]; then
  echo "stage-runtime: the cuda variant's binaries do not load libtorch_cuda and libcudart: built without CUDA?" >&2
  exit 1
fi
if [ "$variant" = cpu ] && [ $has_cuda = yes ]; then
  echo "stage-runtime: the cpu variant's binaries load CUDA libtorch: built against the CUDA wheel?" >&2
  exit 1
fi

# DCMTK's data dictionary is a file it loads at run time (DCMDICTPATH, set by the Dockerfile), not a
# library: without it, implicit VR DICOM files have no Rows/Columns.
dict_dir=$dest/opt/medgemma/share/dcmtk
install -d "$dict_dir"
dictionaries=$(ls /usr/share/libdcmtk*/dicom.dic /usr/share/libdcmtk*/private.dic 2>/dev/null || true)
[ -n "$dictionaries" ] || { echo "stage-runtime: DCMTK's dicom.dic is not installed (libdcmtk)" >&2; exit 1; }
for f in $dictionaries; do place "$f" "$dict_dir/$(basename "$f")"; done

install -d "$dest/etc/medgemma"
install -m 0644 "$repo/config/container/server.yaml" "$repo/config/container/trainer.yaml" \
  "$repo/config/task-breakhis.yaml" "$dest/etc/medgemma/"
install -d -m 0755 "$dest/var/lib/medgemma"/{models,adapters,trainer,trainer/jobs,data}
install -d -m 0700 "$dest/run/secrets/medgemma"
echo "stage-runtime: ${#binaries[@]} binaries, ${#staged[@]} libraries ($(du -shL "$lib_dir" | cut -f1)) in $dest"
