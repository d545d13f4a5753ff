#!/usr/bin/env bash
# bench/ingest — issue #2's ingest target, measured (run on demand, not in CI):
#   10,000 simulated devices publish STATE as fast as the broker carries it; the rate at which
#   tasmota-fleet processes *and persists* them is printed beside the rate mosquitto_sub receives the
#   same stream in the same run. Reference: ratio >= 0.9 of mosquitto_sub, daemon peak RSS <= 100 MB.
# Usage: bench/ingest.sh            (DEVICES=10000 PER_DEVICE=20 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES="${DEVICES:-10000}"
PER_DEVICE="${PER_DEVICE:-20}"
TOTAL=$((DEVICES * PER_DEVICE))
[ -x build/cli/tasmota-fleet ] || scripts/build.sh
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

run=$(mktemp -d /tmp/fleet-bench-ingest-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$run"; }
trap cleanup EXIT

. scripts/broker.sh
start_broker "$run" || exit 1
pids+=($broker_pid)

build/cli/tasmota-fleet serve --broker "mqtt://127.0.0.1:$port" --db "$run/fleet.db" --status-rate 5000 \
  --log-level warn --stats-every 0 --no-ota --metrics-file "$run/metrics.json" ${FLEET_ARGS:-} 2>"$run/fleet.log" &
fleet_pid=$!
pids+=($fleet_pid)

# No periodic telemetry before the flood: the measured window holds only the flood.
build/sim/tasmota-sim --broker "mqtt://127.0.0.1:$port" --count "$DEVICES" --flood "$PER_DEVICE" --flood-on-signal \
  --first-state-ms 2000000000 --ready-file "$run/sim.ready" --log-level warn >"$run/sim.log" 2>&1 &
sim_pid=$!
pids+=($sim_pid)
for _ in $(seq 600); do [ -f "$run/sim.ready" ] && break; sleep 0.1; done
[ -f "$run/sim.ready" ] || { echo "simulator did not connect"; tail "$run/sim.log"; exit 1; }

# Wait for the inventory to know every device: STATE of an unknown device has nowhere to be stored.
for _ in $(seq 600); do
  n=$(sqlite3 "$run/fleet.db" "SELECT count(*) FROM devices WHERE version IS NOT NULL" 2>/dev/null || echo 0)
  [ "$n" -ge "$DEVICES" ] && break
  sleep 0.2
done
echo "inventory: $n of $DEVICES devices known"

mosquitto_sub -p "$port" -t 'tele/+/STATE' -C "$TOTAL" -W 300 -F '%U' >"$run/sub.txt" &
sub_pid=$!
sleep 1
# PROFILE=1: perf samples of the daemon during the flood, reported into perf-ingest.txt here.
if [ -n "${PROFILE:-}" ]; then
  perf record -F 500 -g -p "$fleet_pid" -o "$run/perf.data" >/dev/null 2>&1 &
  perf_pid=$!
fi
kill -USR1 "$sim_pid"
wait "$sub_pid" || true
if [ -n "${PROFILE:-}" ]; then
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  perf report -i "$run/perf.data" --no-children --percent-limit 1 --stdio -g none >perf-ingest.txt 2>/dev/null || true
  echo "bench/ingest: the daemon's profile: perf-ingest.txt" >&2
fi

# Let the daemon finish what it has (its message counter stops moving), then stop it cleanly.
prev=-1
for _ in $(seq 300); do
  cur=$(sqlite3 "$run/fleet.db" "SELECT messages FROM daemon_status" 2>/dev/null || echo 0)
  [ "$cur" = "$prev" ] && break
  prev=$cur
  sleep 1
done
kill -TERM "$fleet_pid"
wait "$fleet_pid" || true

python3 - "$run/sub.txt" "$run/metrics.json" "$DEVICES" "$PER_DEVICE" <<'PY'
import json, sys
sub_lines = [float(l) for l in open(sys.argv[1]) if l.strip()]
m = json.load(open(sys.argv[2]))
devices, per = int(sys.argv[3]), int(sys.argv[4])
sub_n = len(sub_lines)
sub_s = (sub_lines[-1] - sub_lines[0]) if sub_n > 1 else float("nan")
sub_rate = sub_n / sub_s
d_n = m["state_persisted"]
d_s = (m["last_persist_ms"] - m["first_state_ms"]) / 1000.0
d_rate = d_n / d_s
rss_mb = m["peak_rss_kb"] / 1024.0
print(f"bench/ingest: {devices} devices x {per} STATE = {devices*per} messages")
print(f"  mosquitto_sub   received {sub_n:>8} in {sub_s:6.2f} s = {sub_rate:9.0f} msg/s")
print(f"  tasmota-fleet   persisted {d_n:>7} in {d_s:6.2f} s = {d_rate:9.0f} msg/s  ({m['flushes']} flushes, {m['rows_written']} rows)")
print(f"  ratio           {d_rate/sub_rate:.2f}   (reference: >= 0.90 of mosquitto_sub, issue #2)")
print(f"  daemon peak RSS {rss_mb:.1f} MB (reference: <= 100 MB for 10,000 devices, issue #2)")
PY
