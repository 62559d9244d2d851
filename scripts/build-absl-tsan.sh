#!/usr/bin/env bash
# Builds Debian's own abseil (the source package of the installed libabsl-dev: same version, same
# patches, same absl/base/options.h, same SONAMEs) with -fsanitize=thread into a prefix, once, and
# prints that prefix. The tsan preset builds against it: Debian's binary abseil is not instrumented,
# so ThreadSanitizer cannot see absl::Mutex and reports every access it guards
# (tests/sanitizers/README.md). Usage: scripts/build-absl-tsan.sh  (progress on stderr)
# Prefix: $MEDGEMMA_ABSL_TSAN_PREFIX, default ~/.cache/medgemma/absl-tsan/<Debian version>.
# Needs deb-src entries for apt (apt-get source); the message says how when they are missing.
set -euo pipefail
version=$(dpkg-query -W -f='${source:Version}' libabsl-dev)
cache=${MEDGEMMA_CACHE:-$HOME/.cache/medgemma}/absl-tsan
prefix=${MEDGEMMA_ABSL_TSAN_PREFIX:-$cache/$version}
stamp=$prefix/.medgemma-absl-tsan
if [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "$prefix"
  exit 0
fi
{
  src=$cache/src/$version
  if [ ! -f "$src/CMakeLists.txt" ]; then
    rm -rf "$cache/src/download"
    mkdir -p "$cache/src/download"
    if ! (cd "$cache/src/download" && apt-get source -q "abseil=$version"); then
      echo "build-absl-tsan: 'apt-get source abseil=$version' failed. Enable Debian source" \
        "packages: a copy of /etc/apt/sources.list.d/debian.sources with 'Types: deb-src', then" \
        "'apt-get update'." >&2
      exit 1
    fi
    rm -rf "$src"
    mv "$(find "$cache/src/download" -mindepth 1 -maxdepth 1 -type d -name 'abseil-*')" "$src"
    rm -rf "$cache/src/download"
  fi
  # As debian/rules builds the shared libraries (C++17, shared), plus ThreadSanitizer.
  rm -rf "$cache/build"
  cmake -S "$src" -B "$cache/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=ON -DBUILD_TESTING=OFF \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib
  cmake --build "$cache/build"
  rm -rf "$prefix"
  cmake --install "$cache/build"
  rm -rf "$cache/build"
  echo "$version" > "$stamp"
} >&2
echo "$prefix"
