#!/usr/bin/env bash
# On the GPU machine, after `source .device/setup.sh`: unpack the extra bundle without replacing files.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tar -xJf "$here/extra.tar.xz" -C / --skip-old-files && ldconfig
# DCMTK's CMake config checks every library it names; the ones not packed get an empty stand-in.
grep -ho 'lib/x86_64-linux-gnu/lib[a-z0-9_]*\.so\.[0-9.]*' /usr/lib/x86_64-linux-gnu/cmake/dcmtk/DCMTKTargets-*.cmake |
  while read -r lib; do [ -e "/usr/$lib" ] || touch "/usr/$lib"; done
