#!/usr/bin/env bash
# Builds and runs every test: unit tests and integration tests against a real mosquitto that each
# test starts on a free loopback port.
#   scripts/test.sh [CTEST ARGS]             the normal build (build/)
#   scripts/test.sh --sanitize [CTEST ARGS]  everything built with AddressSanitizer and UndefinedBehavior-
#                                            Sanitizer into build-sanitize/ (slower: run on demand, before
#                                            resolving a change to memory-handling code; docs/fuzzing.md)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--sanitize" ]]; then
  shift
  scripts/install-deps.sh
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
        -DFLEET_SANITIZE=ON -DFLEET_TCMALLOC=OFF >/dev/null
  cmake --build build-sanitize -j"$(nproc)"
  cd build-sanitize
  # Any finding stops the process that made it (a failing test, with the report in its output). Leak checks
  # are off: the programs the tests kill (SIGKILL, SIGTERM mid-job) would report what they held.
  export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:strict_string_checks=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # Sanitized programs are slower: more time per test, fewer at once. The package test is left out: it
  # packages the Release build in build/ (nothing sanitized), and where build/ is missing it would build it.
  exec ctest --output-on-failure -j"$(nproc)" --timeout 600 -LE package "$@"
fi
scripts/build.sh
cd build
# Two tests per core: the integration tests mostly wait on simulated restarts and timeouts (the whole
# suite keeps about 0.6 of a core busy at -j2), so this halves the run without starving any of them.
ctest --output-on-failure -j"$(( $(nproc) * 2 ))" --timeout 300 "$@"
