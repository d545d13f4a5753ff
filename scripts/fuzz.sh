#!/usr/bin/env bash
# Fuzzes the parsers that take outside input (docs/fuzzing.md) with libFuzzer under the address and
# undefined-behaviour sanitizers, in its own build tree build-fuzz/ (clang, every library sanitized).
#   scripts/fuzz.sh [SECONDS] [TARGET…]   each target (default: all) for SECONDS (default 60), its
#                                          corpus growing in build-fuzz/fuzz/corpus/TARGET across runs
#   scripts/fuzz.sh --smoke [TARGET…]      each target for SMOKE_SECONDS (default 1; libFuzzer stops a
#                                          second later) from its seeds alone: about 25 s for all
# Prints executions, coverage and crashes per target; exits 1 when a target crashed, naming the input
# that reproduces it (run it again: build-fuzz/tests/fuzz/fuzz_TARGET FILE). JOBS=N builds with N jobs;
# FUZZ_ARGS adds libFuzzer options.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
seconds=60
if [ "${1:-}" = "--smoke" ]; then
  smoke=1
  seconds=${SMOKE_SECONDS:-1}
  shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
all=()
for f in tests/fuzz/fuzz_*.cpp; do all+=("$(basename "$f" .cpp | sed 's/^fuzz_//')"); done
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/fuzz_$t.cpp" ] || { echo "fuzz.sh: no target '$t' (have: ${all[*]})" >&2; exit 2; }
done

# The longest input worth trying, per target: a little over the largest real one.
max_len() {
  case "$1" in
    topics | ota_path) echo 512 ;;
    unishox) echo 2048 ;;
    payloads | control) echo 4096 ;;
    dmp) echo 4400 ;;  # 4096 bytes of settings, the 16-byte header, a trailer
    inventory | image | catalog) echo 8192 ;;
    settings_json) echo 40000 ;;  # decode-config's JSON backups are 25–30 KB
    *) echo 4096 ;;
  esac
}

# Words the inputs are made of (libFuzzer splices them in), per target.
dict_of() {
  case "$1" in
    payloads | inventory | topics) echo tests/fuzz/tasmota.dict ;;
    control) echo tests/fuzz/control.dict ;;
    catalog) echo tests/fuzz/catalog.dict ;;
  esac
}

scripts/install-deps.sh
# clang with its libFuzzer and sanitizer runtimes, and ninja (it compiles a library's files while the
# ones it depends on still build: an eighth faster on 2 cores than make). Only this script needs them.
if ! command -v clang++ >/dev/null || ! command -v ninja >/dev/null ||
   ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends clang libclang-rt-dev ninja-build
fi

build="build-fuzz"
if [ ! -f "$build/CMakeCache.txt" ]; then
  # -O1 and line tables only: fast enough to fuzz, readable stacks, a third less to compile. No NDEBUG:
  # an assert that fires is a finding.
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DFLEET_FUZZ=ON -DFLEET_TCMALLOC=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" >/dev/null
fi
nice cmake --build "$build" -j"${JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
work="$build/fuzz"
mkdir -p "$work/logs"
failed=0
summary=()
for t in "${targets[@]}"; do
  if ((smoke)); then
    corpus="$work/smoke/$t"
    rm -rf "$corpus"
  else
    corpus="$work/corpus/$t"
  fi
  mkdir -p "$corpus" "$work/artifacts/$t"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  log="$work/logs/$t.log"
  args=(-max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$work/artifacts/$t/")
  dict=$(dict_of "$t")
  [ -z "$dict" ] || args+=(-dict="$dict")
  before=$(ls "$work/artifacts/$t")
  rc=0
  # FUZZ_ARGS: more libFuzzer options, e.g. "-fork=1 -ignore_crashes=1" to go on past a crash.
  # shellcheck disable=SC2086
  nice "$build/tests/fuzz/fuzz_$t" "${args[@]}" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1 || rc=$?
  # Executions: the final stats, or (-fork) the last status line "#N: cov: …".
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  [ -n "$rate" ] || rate=$(( ${execs:-0} / (seconds > 0 ? seconds : 1) ))
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  found=$(comm -13 <(printf '%s\n' "$before") <(ls "$work/artifacts/$t") | sed "s|^|$work/artifacts/$t/|")
  crashes=$(printf '%s' "$found" | grep -c . || true)
  summary+=("$(printf '%-14s %12s execs %8s/s   cov %6s   crashes %s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$crashes")")
  echo "${summary[-1]}"
  if ((rc != 0 || crashes > 0)); then
    failed=1
    grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:|SUMMARY:' "$log" | sed 's/^/    /' || true
    for f in $found; do echo "    reproduce: $build/tests/fuzz/fuzz_$t $f"; done
    echo "    log: $log"
  fi
done
echo "== fuzz: ${#targets[@]} target(s), ${seconds} s each"
printf '%s\n' "${summary[@]}"
exit "$failed"
