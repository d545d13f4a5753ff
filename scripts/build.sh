#!/usr/bin/env bash
# Configures and builds everything into build/ (dependencies first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Optimised, without debug info by default: debug info costs a third of the build's time on 2 cores
# (BUILD_TYPE=RelWithDebInfo scripts/build.sh for a build to debug).
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
cmake --build build -j"$(nproc)"
