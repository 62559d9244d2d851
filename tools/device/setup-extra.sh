#!/usr/bin/env bash
# On the GPU machine, after `source .device/setup.sh`: unpack the extra bundle without replacing files.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tar -xJf "$here/extra.tar.xz" -C / --skip-old-files && ldconfig
