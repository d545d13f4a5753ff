#!/usr/bin/env bash
# bench/rollout — the rollout target, measured (run on demand, not in CI): DEVICES simulated ESP8266
# devices on FROM are rolled out to TO by the daemon with --max-parallel PARALLEL (no canary, one wave),
# the simulator's delays scaled down. Printed, each beside its target:
#   - the rollout's wall time beside the simulator's own critical path (target <= 1.2x): what one
#     device's job costs with no orchestrator at all (the restarts a job causes x --restart-delay-ms, plus
#     the image's download at loopback speed), times ceil(DEVICES / PARALLEL) rounds;
#   - the daemon's CPU time (user + sys, /proc/<pid>/stat) per device-step executed (target <= 1 ms);
#   - the daemon's peak RSS (VmHWM);
#   - devices finished/failed (every one must finish), the most device jobs in flight at once (from the
#     audit log) and, for comparison, one device's job measured alone through the same daemon.
# Usage: bench/rollout.sh   (DEVICES=1000 PARALLEL=200 RESTART_MS=1000 TELE_SCALE=0.05 IMAGE_KB=600 FROM=9.1.0 TO=9.2.0)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES="${DEVICES:-1000}"
PARALLEL="${PARALLEL:-200}"
RESTART_MS="${RESTART_MS:-1000}"    # Offline -> Online of each restart (a real ESP8266 takes several seconds)
TELE_SCALE="${TELE_SCALE:-0.05}"    # TelePeriod 300 s x 0.05 = one STATE per device every 15 s
IMAGE_KB="${IMAGE_KB:-600}"
FROM="${FROM:-9.1.0}"
TO="${TO:-9.2.0}"
BUILD=tasmota
[ -x build/cli/tasmota-fleet ] && [ -x build/sim/tasmota-sim ] || scripts/build.sh
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

run=$(mktemp -d /tmp/fleet-bench-rollout-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "bench/rollout: kept $run" >&2; else rm -rf "$run"; fi
}
trap cleanup EXIT
free_port() {
  for candidate in $(shuf -i 20000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then echo "$candidate"; return; fi
  done
}
fail() { echo "bench/rollout: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
q() { sqlite3 "$run/fleet.db" "$1" 2>/dev/null || echo 0; }
# utime + stime of a process, in ms (/proc/<pid>/stat fields 14 and 15, in clock ticks; the name in
# field 2 has no spaces here).
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }

port=$(free_port)
ota_port=$(free_port)
{ printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n' "$port"
  [ "${NODELAY:-1}" = 1 ] && echo "set_tcp_nodelay true"
  [ "$(id -u)" -eq 0 ] && echo "user root"; } >"$run/mosquitto.conf"
mosquitto -c "$run/mosquitto.conf" >"$run/mosquitto.log" 2>&1 &
broker_pid=$!
pids+=($broker_pid)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

F=build/cli/tasmota-fleet
hops=$($F --db "$run/plan.db" plan --from "$FROM" --build "$BUILD" --to "$TO" --json |
       python3 -c 'import json,sys; p=json.load(sys.stdin)[0]; print(" ".join(str(len(h["steps"])) for h in p["hops"]))')
[ "$(wc -w <<<"$hops")" -eq 1 ] || fail "$FROM -> $TO is not one hop (steps per hop: $hops)"
steps_per_job=$hops
build/sim/tasmota-sim --make-image "$run/image.bin.gz" --image-version "$TO" --image-build "$BUILD" --image-kb "$IMAGE_KB" --gzip >/dev/null
$F --db "$run/fleet.db" --firmware-dir "$run/fw" firmware add "$run/image.bin.gz" --version "$TO" --build "$BUILD" >/dev/null
bytes=$(stat -c %s "$run/image.bin.gz")

# The daemon: as many OTA threads as jobs in flight, so downloads never queue on our side.
ota_threads=$(( PARALLEL > 128 ? PARALLEL : 128 ))
$F serve --broker "mqtt://127.0.0.1:$port" --db "$run/fleet.db" --firmware-dir "$run/fw" --ota-listen "127.0.0.1:$ota_port" \
  --ota-threads "$ota_threads" --status-rate 1000 --log-level warn --stats-every 0 2>"$run/fleet.log" &
fleet_pid=$!
pids+=($fleet_pid)
# DEVICES + 1 devices: the first is upgraded alone first (the per-job figure with the daemon idle),
# the other DEVICES by the measured rollout. Downloads not paced, one simulator thread per job in flight.
total=$((DEVICES + 1))
build/sim/tasmota-sim --broker "mqtt://127.0.0.1:$port" --count "$total" --versions "$FROM:$BUILD" --tele-scale "$TELE_SCALE" \
  --restart-delay-ms "$RESTART_MS" --ota-threads "$PARALLEL" --ota-kbps 0 --web-port 0 --web-port-file "$run/web.port" \
  --ready-file "$run/sim.ready" --log-level warn >"$run/sim.log" 2>&1 &
sim_pid=$!
pids+=($sim_pid)
for _ in $(seq 600); do [ -f "$run/sim.ready" ] && [ -s "$run/web.port" ] && break; sleep 0.1; done
[ -f "$run/sim.ready" ] || { tail "$run/sim.log"; fail "the simulator did not connect"; }
web_port=$(tr -d '\n' <"$run/web.port")
for _ in $(seq 600); do
  [ "$(q "SELECT count(*) FROM devices WHERE version = '$FROM' AND online = 1")" -ge "$total" ] && break
  sleep 0.2
done
[ "$(q "SELECT count(*) FROM devices WHERE version = '$FROM' AND online = 1")" -ge "$total" ] || fail "the inventory does not know every device"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$ota_port") 2>/dev/null && break; sleep 0.1; done

rollout() {  # rollout start … through the daemon's control API, followed until it ends
  $F --db "$run/fleet.db" --broker "mqtt://127.0.0.1:$port" --log-level warn rollout start --to "$TO" \
    --canary 0 --waves 100% --web-port "$web_port" --follow "$@" >>"$run/follow.log" 2>&1
}

# One device alone: its job's wall time with nobody else in flight.
first=$(q "SELECT mac FROM devices ORDER BY ip LIMIT 1")
t0=$(now_ms)
rollout --max-parallel 1 "$first" || { tail -20 "$run/follow.log"; fail "the single device's rollout failed"; }
single_ms=$(( $(now_ms) - t0 ))
single_job_ms=$(q "SELECT finished_ms - started_ms FROM rollout_devices WHERE rollout_id = 1")
download_ms=$(q "SELECT finished_ms - started_ms FROM ota_downloads WHERE status = 200 AND completed = 1 ORDER BY id LIMIT 1")

echo "bench/rollout: $DEVICES devices $FROM -> $TO ($BUILD, 1 hop of $steps_per_job steps), --max-parallel $PARALLEL, $bytes byte image,"
echo "  restart delay $RESTART_MS ms, TelePeriod x $TELE_SCALE, downloads not paced"

# PROFILE=1: perf samples of the daemon during the rollout, the top of its report kept in the run folder.
if [ -n "${PROFILE:-}" ]; then
  perf record -F 499 -g -p "$fleet_pid" -o "$run/perf.data" >"$run/perf.log" 2>&1 &
  perf_pid=$!
fi
busy() { awk '/^cpu / { printf "%d %d", $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
read -r busy0 all0 < <(busy)
cpu0=$(cpu_ms "$fleet_pid"); sim0=$(cpu_ms "$sim_pid"); broker0=$(cpu_ms "$broker_pid")
t0=$(now_ms)
rollout_rc=0
rollout --all --max-parallel "$PARALLEL" || rollout_rc=$?
t1=$(now_ms)
cpu1=$(cpu_ms "$fleet_pid"); sim1=$(cpu_ms "$sim_pid"); broker1=$(cpu_ms "$broker_pid")
read -r busy1 all1 < <(busy)
if [ -n "${PROFILE:-}" ]; then
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  perf report -i "$run/perf.data" --no-children --percent-limit 0.5 --stdio >"$run/perf.txt" 2>/dev/null || true
  echo "bench/rollout: daemon profile in $run/perf.txt (KEEP=1 keeps it)" >&2
fi
hwm_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$fleet_pid/status")

$F --db "$run/fleet.db" rollout show 2 --json >"$run/show.json"
$F --db "$run/fleet.db" log --rollout 2 --json >"$run/log.json"
kill -TERM "$sim_pid"; wait "$sim_pid" || true
sim_restarts=$(sed -n 's/.* restarts=\([0-9]*\).*/\1/p' "$run/sim.log" | tail -1)

py_rc=0
python3 - "$run/show.json" "$run/log.json" <<PY || py_rc=$?
import json, math, sys
show = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
devices, parallel = $DEVICES, $PARALLEL
restart_ms, download_ms = $RESTART_MS, $download_ms
sim_restarts, total = int("${sim_restarts:-0}" or 0), $total
wall = ($t1 - $t0) / 1000.0
cpu = ($cpu1 - $cpu0) / 1000.0
steps_per_job = $steps_per_job
single_ms, single_job_ms = $single_ms, $single_job_ms

finished = [d for d in show["devices"] if d["status"] == "finished"]
failed = [d for d in show["devices"] if d["status"] not in ("finished", "skipped")]
skipped = [d for d in show["devices"] if d["status"] == "skipped"]
# In flight, from the audit log, as tests/integration/rollout_it.cpp counts it.
in_flight = peak = 0
state_entries = 0
for e in log:
    if e["kind"] != "state" or e["mac"] is None: continue
    state_entries += 1
    t = e["text"]
    if t.startswith("started upgrade job"):
        in_flight += 1; peak = max(peak, in_flight)
    if t.startswith("finished") or t.startswith("error"):
        in_flight -= 1

restarts_per_job = sim_restarts / total if sim_restarts else float("nan")
rounds = math.ceil(devices / parallel)
per_job = restarts_per_job * restart_ms + download_ms
critical = per_job * rounds / 1000.0
device_steps = steps_per_job * len(finished)
print(f"  devices        {len(finished)} of {devices} finished, {len(failed)} failed" + (f", {len(skipped)} skipped" if skipped else ""))
for d in failed[:20]:
    print(f"    {d.get('name', d['mac'])}: {d['status']}: {d.get('reason', '')}")
print(f"  in flight      at most {peak} device jobs (--max-parallel {parallel})")
print(f"  critical path  {restarts_per_job:.2f} restarts per job (simulator count) x {restart_ms} ms + download {download_ms} ms"
      f" = {per_job/1000:.2f} s per job, x ceil({devices}/{parallel}) = {rounds} rounds = {critical:.2f} s")
print(f"  one job alone  {single_job_ms/1000:.2f} s through the idle daemon ({single_ms/1000:.2f} s from 'rollout start' to its end)")
print(f"  wall time      {wall:.2f} s vs critical path {critical:.2f} s = ratio {wall/critical:.2f} (target <= 1.2)")
print(f"  daemon CPU     {cpu:.2f} s user+sys over {device_steps} device-steps ({steps_per_job} per job x {len(finished)} jobs; {state_entries} audit state entries)")
print(f"  cpu per device-step {cpu*1000/device_steps:.3f} ms (target <= 1 ms)")
cores = $(nproc)
machine = ($busy1 - $busy0) / max(1, $all1 - $all0) * cores
print(f"  CPU meanwhile  daemon {cpu/wall:.2f}, simulator {($sim1 - $sim0)/1000/wall:.2f}, mosquitto {($broker1 - $broker0)/1000/wall:.2f},"
      f" whole machine {machine:.2f} of {cores} cores busy")
print(f"  daemon peak RSS {$hwm_kb/1024:.1f} MB (VmHWM)")
sys.exit(1 if failed or len(finished) != devices else 0)
PY
[ "$rollout_rc" -eq 0 ] || echo "  rollout start exited $rollout_rc (tail of its output: $run/follow.log)"
exit $(( py_rc || rollout_rc ))
