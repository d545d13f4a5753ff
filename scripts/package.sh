#!/usr/bin/env bash
# Builds the Debian package (build/tasmota-fleet_<version>_<arch>.deb) from the build tree with CPack's
# DEB generator, building what is missing first; prints the package's path.
# Install it: sudo apt install ./build/tasmota-fleet_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/CMakeCache.txt ] || scripts/build.sh >&2
cmake --build build -j"$(nproc)" --target tasmota-fleet tasmota-sim fleet_changelog >&2
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' build/CMakeCache.txt)
arch=$(dpkg --print-architecture)
rm -f "build/tasmota-fleet_${version}_${arch}.deb"
(cd build && cpack -G DEB >&2)
deb="build/tasmota-fleet_${version}_${arch}.deb"
[ -f "$deb" ] || { echo "package.sh: cpack made no $deb" >&2; exit 1; }
echo "$deb"
