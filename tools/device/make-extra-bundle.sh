#!/usr/bin/env bash
# The GPU machine lacks Debian -dev packages the project needs that shared/device's bundle does
# not pack: nlohmann-json3-dev, libsqlite3-dev, libssl-dev (base/ hashes with libcrypto), libtiff-dev (the
# bundle has libtiff.so.6 for OpenCV, not its headers), and libprotobuf-dev + protoc (the torch wheel's
# include directory has only an older protobuf's headers, no library), and DCMTK (the server's DICOM
# input, the CLI's DICOM SR): libdcmtk-dev and the libraries linked. Packs them into
# .device/extra.tar.xz; tools/device/setup-extra.sh unpacks it there. Run after make-bundle.sh.
set -euo pipefail
out_dir=${1:-.device}
mkdir -p "$out_dir"
pkgs="nlohmann-json3-dev libsqlite3-dev libssl-dev libtiff-dev libprotobuf-dev protobuf-compiler libprotoc32
      libdcmtk-dev"
# Of DCMTK's 27 libraries only those the project links travel (64 MiB limit); setup-extra.sh
# stands in empty files for the rest, which DCMTK's CMake config checks for but nothing links.
dcmtk_libs="libofstd liboflog libdcmdata libdcmimgle libdcmimage libdcmjpeg libijg8 libijg12 libijg16 libdcmsr"
# The unversioned names DCMTK's imported targets link by path.
dev_links="libz.so libxml2.so libjpeg.so libpng.so libnsl.so"
files=$( (dpkg -L $pkgs; for l in libsqlite3.so libcrypto.so libssl.so libtiff.so libprotobuf.so libprotobuf-lite.so libprotoc.so.32 \
          $dev_links $(for d in $dcmtk_libs; do echo $d.so; done); do
          echo /usr/lib/x86_64-linux-gnu/$l; readlink -f /usr/lib/x86_64-linux-gnu/$l; done
          for d in $dcmtk_libs; do echo /usr/lib/x86_64-linux-gnu/$d.so.17; done) |
  while read -r f; do [ -f "$f" ] || [ -L "$f" ] && echo "$f"; done | grep -v -e '^/usr/share/doc' -e '\.a$')
echo "$files" | tar -cJf "$out_dir/extra.tar.xz" --files-from=-
cp "$(dirname "$0")/setup-extra.sh" "$out_dir/setup-extra.sh"
echo "wrote $out_dir/extra.tar.xz ($(du -h "$out_dir/extra.tar.xz" | cut -f1))"
