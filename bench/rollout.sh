#!/usr/bin/env bash
# bench/rollout — the rollout target, measured (run on demand, not in CI): DEVICES simulated ESP8266
# devices on FROM are rolled out to TO by the daemon through its control API, --canary 0 --waves 100%
# --max-parallel PARALLEL, the simulator's delays scaled down. Printed, each beside its target:
#   - the rollout's wall time (from `rollout start --follow` to its return) beside the simulator's own
#     critical path (target <= 1.2x): one device's job with no orchestrator at all = the restarts a job
#     causes (counted by the simulator: Reset 6, the upgrade, the restore's upload) x --restart-delay-ms,
#     plus the image's download at loopback speed (from the OTA log of a job run alone), times
#     plus the health stability window the job must wait (HEALTH_S, --health-window), times
#     ceil(DEVICES / PARALLEL) rounds; every other delay of the simulator along the path is a loopback
#     round trip (~0.1 ms, printed);
#   - the orchestrator's CPU time per device-step executed (the steps of the plan's hop x the jobs
#     finished; target <= 1 ms): its event loop's thread (/proc/<pid>/task/<pid>/schedstat), which runs
#     every job, rollout, control request and the inventory; beside it the whole daemon's (user + sys,
#     /proc/<pid>/stat) and the rest (Paho's network threads, the OTA server, device HTTP);
#   - the daemon's peak RSS (VmHWM);
#   - devices finished/failed (every one must finish, else their reasons and exit 1), the most device jobs
#     in flight at once (from the audit log, as tests/integration/rollout_it.cpp counts them).
# And where the time goes: one job alone through the idle daemon (an extra device, upgraded first), the
# jobs' durations, each command's round trip split into the simulator's and the daemon's share (seen by
# a mosquitto_sub on SAMPLE devices), the CPU of each process and of the machine, and the event loop's
# thread time on a CPU / waiting for a CPU (/proc/<pid>/task/<pid>/schedstat).
# Usage: bench/rollout.sh   (DEVICES=1000 PARALLEL=200 RESTART_MS=1000 TELE_SCALE=0.05 IMAGE_KB=600
#                            FROM=9.1.0 TO=9.2.0 SAMPLE=10 NODELAY=1; KEEP=1 keeps the run's folder;
#                            PROFILE=1 records the event loop with perf into it, PROFILE=all every thread,
#                            PROFILE=sim the simulator;
#                            DAEMON_WRAP runs the daemon under a command, e.g. heaptrack)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES="${DEVICES:-1000}"
PARALLEL="${PARALLEL:-200}"
HEALTH_S="${HEALTH_S:-1}"           # the health stability window after each hop (--health-window), part of a job's path
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
fail() { echo "bench/rollout: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
q() { sqlite3 "$run/fleet.db" "$1" 2>/dev/null || echo 0; }
# utime + stime of a process, in ms (/proc/<pid>/stat fields 14 and 15, in clock ticks; the name in
# field 2 has no spaces here).
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }

# The broker on a free port (scripts/broker.sh). NODELAY=1 (default): set_tcp_nodelay, else Nagle on the
# broker's sockets adds ~40 ms to every round trip of an idle job (measured: one job alone ~3.5 s instead of
# ~3.3 s), which is the broker's, not the orchestrator's.
. scripts/broker.sh
nodelay=()
[ "${NODELAY:-1}" = 1 ] && nodelay=("set_tcp_nodelay true")
start_broker "$run" "sys_interval 1" "${nodelay[@]}" || fail "mosquitto did not start"
pids+=($broker_pid)

F=build/cli/tasmota-fleet
hops=$($F --db "$run/plan.db" plan --from "$FROM" --build "$BUILD" --to "$TO" --json |
       python3 -c 'import json,sys; p=json.load(sys.stdin)[0]; print(" ".join(str(len(h["steps"])) for h in p["hops"]))')
[ "$(wc -w <<<"$hops")" -eq 1 ] || fail "$FROM -> $TO is not one hop (steps per hop: $hops)"
steps_per_job=$hops
build/sim/tasmota-sim --make-image "$run/image.bin.gz" --image-version "$TO" --image-build "$BUILD" --image-kb "$IMAGE_KB" --gzip >/dev/null
$F --db "$run/fleet.db" --firmware-dir "$run/fw" firmware add "$run/image.bin.gz" --version "$TO" --build "$BUILD" >/dev/null
bytes=$(stat -c %s "$run/image.bin.gz")

# The daemon's OTA threads (the default, 128): a download at loopback speed takes a few ms, so they are
# never all busy; a thread per job in flight (OTA_THREADS=PARALLEL) cost 70 MB of RSS at 1,000 and
# changed no other figure.
ota_threads=${OTA_THREADS:-128}
# DAEMON_WRAP: a command the daemon runs under (DAEMON_WRAP="heaptrack -o $PWD/heap" for its allocations;
# the figures then measure the daemon inside it, found by its command line).
${DAEMON_WRAP:-} $F serve --broker "mqtt://127.0.0.1:$port" --db "$run/fleet.db" --firmware-dir "$run/fw" --ota-listen 127.0.0.1:0 \
  --ota-threads "$ota_threads" --status-rate 1000 --log-level warn --stats-every 0 2>"$run/fleet.log" &
fleet_pid=$!
pids+=($fleet_pid)
if [ -n "${DAEMON_WRAP:-}" ]; then
  for _ in $(seq 50); do
    inner=$(pgrep -n -f "^$F serve --broker mqtt://127.0.0.1:$port" || true)
    [ -n "$inner" ] && break
    sleep 0.1
  done
  fleet_pid=${inner:?the daemon did not start under DAEMON_WRAP}
fi
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
for _ in $(seq 100); do [ "$(q "SELECT count(*) FROM daemon_status WHERE connected = 1 AND ota_base LIKE 'http%'")" -ge 1 ] && break; sleep 0.1; done
kill -0 "$fleet_pid" 2>/dev/null || { tail "$run/fleet.log"; fail "the daemon stopped"; }

rollout() {  # rollout start … through the daemon's control API, followed until it ends
  $F --db "$run/fleet.db" --broker "mqtt://127.0.0.1:$port" --log-level warn rollout start --to "$TO" \
    --canary 0 --waves 100% --health-window "$HEALTH_S" --web-port "$web_port" --follow "$@" >>"$run/follow.log" 2>&1
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

# PROFILE=1: perf samples of the daemon's event loop (its main thread: 93% of its CPU in a whole-machine
# profile; -p cannot follow its short-lived HTTP threads) with call graphs, reported in the run folder.
if [ -n "${PROFILE:-}" ]; then
  # PROFILE=all: every thread of the daemon (its short-lived HTTP threads too), not the event loop alone;
  # PROFILE=sim: the simulator instead.
  case "$PROFILE" in
    all) target=(-p "$fleet_pid") ;;
    sim) target=(-p "$sim_pid") ;;
    *) target=(-t "$fleet_pid") ;;
  esac
  perf record -F 250 --call-graph dwarf,16384 "${target[@]}" -o "$run/perf.data" >"$run/perf.log" 2>&1 &
  perf_pid=$!
  pids+=($perf_pid)
fi
# Seen from the broker (independent subscribers): every Reset command, and every message of SAMPLE devices
# spread over the fleet, to split each command's round trip into the simulator's part (command -> its
# reply) and the daemon's part (a device's message -> the next command it gets).
mosquitto_sub -p "$port" -t 'cmnd/+/Reset' -t 'stat/+/UPGRADE' -v -F '%U %t %p' >"$run/resets.log" 2>&1 &
pids+=($!)
sample_topics=$(q "SELECT topic FROM (SELECT topic, row_number() OVER (ORDER BY mac) AS n FROM devices WHERE mac != '$first')
                   WHERE n % $(( (DEVICES + ${SAMPLE:-10} - 1) / ${SAMPLE:-10} )) = 1")
sub_args=()
# Device jobs command a device on its own fallback topic (cmnd/<MqttClient>_fb/, answered on stat/…_fb/).
q "SELECT mqtt_client || '_fb ' || topic FROM devices WHERE mqtt_client IS NOT NULL" >"$run/fallbacks.txt"
for t in $sample_topics; do
  sub_args+=(-t "cmnd/$t/#" -t "stat/$t/#" -t "tele/$t/#")
  fb=$(awk -v t="$t" '$2 == t { print $1; exit }' "$run/fallbacks.txt")
  [ -n "$fb" ] && sub_args+=(-t "cmnd/$fb/#" -t "stat/$fb/#")
done
mosquitto_sub -p "$port" "${sub_args[@]}" -v -F '%U %t' >"$run/sample.log" 2>&1 &
pids+=($!)
sleep 0.3
busy() { awk '/^cpu / { printf "%d %d\n", $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
# Connections dropped because a listen queue was full (machine-wide; each costs the client a SYN resent 1 s later).
listen_drops() { awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else for (i = 1; i <= NF; i++) if (n[i] == "ListenDrops") print $i }' /proc/net/netstat; }
drops0=$(listen_drops)
# The broker's own counts of PUBLISH packets it received and sent (cumulative, refreshed every second:
# sys_interval 1), read a second apart from the rollout on either side.
sys_count() { mosquitto_sub -p "$port" -t "\$SYS/broker/publish/messages/$1" -C 1 -W 5 2>/dev/null || echo 0; }
sleep 1.1
pub_in0=$(sys_count received); pub_out0=$(sys_count sent)
read -r busy0 all0 < <(busy)
# The event loop's thread (the daemon's main thread): ns on a CPU, ns runnable but waiting for one.
sched() { awk '{ printf "%d %d\n", $1 / 1e6, $2 / 1e6 }' "/proc/$1/task/$1/schedstat"; }
read -r loop_run0 loop_wait0 < <(sched "$fleet_pid")
cpu0=$(cpu_ms "$fleet_pid"); sim0=$(cpu_ms "$sim_pid"); broker0=$(cpu_ms "$broker_pid")
t0=$(now_ms)
rollout_rc=0
rollout --all --max-parallel "$PARALLEL" || rollout_rc=$?
t1=$(now_ms)
read -r loop_run1 loop_wait1 < <(sched "$fleet_pid")
cpu1=$(cpu_ms "$fleet_pid"); sim1=$(cpu_ms "$sim_pid"); broker1=$(cpu_ms "$broker_pid")
read -r busy1 all1 < <(busy)
drops1=$(listen_drops)
if [ -n "${PROFILE:-}" ]; then
  kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" || true
  perf report -i "$run/perf.data" --children --percent-limit 1 --stdio -g none >"$run/perf-children.txt" 2>/dev/null || true
  perf report -i "$run/perf.data" --no-children --percent-limit 0.5 --stdio -g caller,0.5,callee,function,percent >"$run/perf-self.txt" 2>/dev/null || true
  echo "bench/rollout: the profile ($PROFILE): $run/perf-children.txt, perf-self.txt" >&2
fi
hwm_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$fleet_pid/status")
sleep 1.2  # the broker's count of messages it dropped (a full queue to a slow client), refreshed every second
broker_dropped=$(mosquitto_sub -p "$port" -t '$SYS/broker/publish/messages/dropped' -C 1 -W 5 2>/dev/null || echo "?")
pub_in1=$(sys_count received); pub_out1=$(sys_count sent)

$F --db "$run/fleet.db" rollout show 2 --json >"$run/show.json"
$F --db "$run/fleet.db" log --rollout 2 --json >"$run/log.json"
q "SELECT finished_ms - started_ms FROM rollout_devices WHERE rollout_id = 2 AND status = 'finished'" >"$run/jobs.txt"
span=$(q "SELECT min(started_ms) || ' ' || max(finished_ms) FROM rollout_devices WHERE rollout_id = 2 AND started_ms > 0")
kill -TERM "$sim_pid"; wait "$sim_pid" || true
sim_restarts=$(sed -n 's/.* restarts=\([0-9]*\).*/\1/p' "$run/sim.log" | tail -1)

py_rc=0
python3 - "$run/show.json" "$run/log.json" "$run/sample.log" "$run/resets.log" "$run/jobs.txt" "$run/fallbacks.txt" <<PY || py_rc=$?
import collections, json, math, statistics, sys
show = json.load(open(sys.argv[1]))
log = json.load(open(sys.argv[2]))
topic_of = dict(l.split() for l in open(sys.argv[6]) if len(l.split()) == 2)  # fallback topic -> the device's topic
sample = collections.defaultdict(list)
for line in open(sys.argv[3]):
    parts = line.split()
    if len(parts) == 2 and parts[1].count("/") >= 2:
        kind, topic, rest = parts[1].split("/", 2)
        sample[topic_of.get(topic, topic)].append((float(parts[0]) * 1000, kind, rest))
resets, outcomes = collections.Counter(), collections.Counter()
for l in open(sys.argv[4]):
    p = l.split()
    if len(p) < 2 or p[1].count("/") != 2: continue
    (resets if p[1].startswith("cmnd/") else outcomes)[topic_of.get(p[1].split("/")[1], p[1].split("/")[1])] += 1
devices, parallel = $DEVICES, $PARALLEL
restart_ms, download_ms = $RESTART_MS, $download_ms
health_ms = $HEALTH_S * 1000  # the job's own wait: the device must stay healthy this long after its hop
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

# Round trips seen from the broker: a command to the first stat/ reply (the simulator's share), a stat/
# reply or the INFO1 of a restart to the next command (the daemon's share, an HTTP exchange with the
# device in between included when there is one).
sim_rt, daemon_rt, commands = [], [], []
for topic, msgs in sample.items():
    commands.append(sum(1 for m in msgs if m[1] == "cmnd"))
    for (t0, k0, r0), (t1, k1, r1) in zip(msgs, msgs[1:]):
        if k0 == "cmnd":
            reply = next((m for m in msgs if m[0] >= t0 and m[1] == "stat"), None)
            if reply and reply[0] - t0 < 2000: sim_rt.append(reply[0] - t0)
        if k1 == "cmnd" and (k0 == "stat" or r0 == "INFO1") and t1 - t0 < 2000:
            daemon_rt.append(t1 - t0)
def q50(v): return statistics.median(v) if v else float("nan")
def q90(v): return sorted(v)[int(len(v) * 0.9)] if v else float("nan")
restarts_per_job = sim_restarts / total if sim_restarts else float("nan")
rounds = math.ceil(devices / parallel)
per_job = restarts_per_job * restart_ms + download_ms + health_ms
critical = per_job * rounds / 1000.0
device_steps = steps_per_job * len(finished)
print(f"  devices        {len(finished)} of {devices} finished, {len(failed)} failed" + (f", {len(skipped)} skipped" if skipped else ""))
for d in failed[:20]:
    name = d.get("name", d["mac"])
    print(f"    {name}: {d['status']}: {d.get('reason', '')} (the broker carried {resets.get(name, 0)} Reset to it,"
          f" {outcomes.get(name, 0)} UPGRADE outcome from it)")
if failed:
    dropped = sum(1 for l in open("$run/mosquitto.log") if "dropped" in l)
    print(f"    mosquitto.log: {dropped} lines about dropped messages")
print(f"  in flight      at most {peak} device jobs (--max-parallel {parallel})")
print(f"  critical path  {restarts_per_job:.2f} restarts per job (simulator count) x {restart_ms} ms + download {download_ms} ms + health window {health_ms} ms"
      f" = {per_job/1000:.2f} s per job, x ceil({devices}/{parallel}) = {rounds} rounds = {critical:.2f} s")
print(f"  one job alone  {single_job_ms/1000:.2f} s through the idle daemon ({single_ms/1000:.2f} s from 'rollout start' to its end)")
jobs = sorted(int(l) / 1000 for l in open(sys.argv[5]) if l.strip())
if jobs:
    print(f"  job duration   median {q50(jobs):.2f} s, p90 {q90(jobs):.2f} s, max {jobs[-1]:.2f} s (one job alone: {single_job_ms/1000:.2f} s)")
print(f"  round trips    {q50(commands):.0f} commands per job, each awaiting its reply; median (p90) from the broker: simulator command -> reply"
      f" {q50(sim_rt):.1f} ({q90(sim_rt):.1f}) ms, daemon reply -> next command {q50(daemon_rt):.1f} ({q90(daemon_rt):.1f}) ms"
      f" ({len(commands)} devices sampled)")
first_start, last_end = (int(x) for x in "$span".split())
print(f"  around jobs    {(first_start - $t0)/1000:.2f} s from 'rollout start' to the first job, {(last_end - first_start)/1000:.2f} s of jobs,"
      f" {($t1 - last_end)/1000:.2f} s from the last job's end to the command's return")
print(f"  wall time      {wall:.2f} s vs critical path {critical:.2f} s = ratio {wall/critical:.2f} (target <= 1.2)")
print(f"  daemon CPU     {cpu:.2f} s user+sys over {device_steps} device-steps ({steps_per_job} per job x {len(finished)} jobs; {state_entries} audit state entries)")
loop_cpu = ($loop_run1 - $loop_run0) / 1000
print(f"  cpu per device-step {loop_cpu*1000/device_steps:.3f} ms in the orchestrator (target <= 1 ms: the event loop running"
      f" jobs, rollouts, control API, inventory); {cpu*1000/device_steps:.3f} ms the whole daemon, its other threads"
      f" (Paho's network threads, the OTA server sending the images, device HTTP) {(cpu - loop_cpu)*1000/device_steps:.3f} ms")
cores = $(nproc)
machine = ($busy1 - $busy0) / max(1, $all1 - $all0) * cores
print(f"  CPU meanwhile  daemon {cpu/wall:.2f}, simulator {($sim1 - $sim0)/1000/wall:.2f}, mosquitto {($broker1 - $broker0)/1000/wall:.2f},"
      f" other processes {machine - (cpu + ($sim1 - $sim0 + $broker1 - $broker0) / 1000) / wall:.2f}; whole machine {machine:.2f} of {cores} cores busy")
loop_run, loop_wait = ($loop_run1 - $loop_run0) / 1000, ($loop_wait1 - $loop_wait0) / 1000
pub_in, pub_out = $pub_in1 - $pub_in0, $pub_out1 - $pub_out0
print(f"  broker         {pub_in} PUBLISH received, {pub_out} sent during the rollout (\$SYS/broker/publish/messages/…):"
      f" {pub_in/max(1, device_steps):.1f} in and {pub_out/max(1, device_steps):.1f} out per device-step, telemetry of the whole fleet"
      f" and the {len(commands)} sampled devices' copies to mosquitto_sub included; {'${broker_dropped:-?}'} dropped")
print(f"  listen queues  {$drops1 - $drops0} connections dropped by a full listen queue meanwhile (machine-wide TcpExt ListenDrops;"
      f" each resent by its client 1 s later)")
print(f"  event loop     on a CPU {loop_run:.2f} s, runnable but waiting for a CPU {loop_wait:.2f} s, otherwise idle or blocked"
      f" {wall - loop_run - loop_wait:.2f} s, of the {wall:.2f} s")
print(f"  daemon peak RSS {$hwm_kb/1024:.1f} MB (VmHWM)")
sys.exit(1 if failed or len(finished) != devices else 0)
PY
[ "$rollout_rc" -eq 0 ] || echo "  rollout start exited $rollout_rc (tail of its output: $run/follow.log)"
exit $(( py_rc || rollout_rc ))
