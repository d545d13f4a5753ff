#!/usr/bin/env bash
# Builds and runs every test: unit tests and integration tests against a real mosquitto that each
# test starts on a free loopback port.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 300 "$@"
