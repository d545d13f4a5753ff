#!/usr/bin/env bash
# The demo: a local mosquitto on a free loopback port, a simulated fleet of 20 Tasmota devices of
# mixed versions, the tasmota-fleet daemon taking the inventory, then the inventory table.
# Everything runs in demo-run/ and stops when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
DEVICES="${DEVICES:-20}"
SECONDS_TO_RUN="${SECONDS_TO_RUN:-8}"
run=demo-run
rm -rf "$run" && mkdir -p "$run"

port=""
for candidate in $(shuf -i 20000-60000 -n 50); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "no free port found" >&2; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n' "$port" >"$run/mosquitto.conf"
mosquitto -c "$run/mosquitto.conf" >"$run/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
echo "== mosquitto on 127.0.0.1:$port"

build/sim/tasmota-sim --broker "mqtt://127.0.0.1:$port" --count "$DEVICES" --tele-scale 0.02 \
  --ready-file "$run/sim.ready" >"$run/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$run/sim.ready" ] && break; sleep 0.1; done
echo "== $DEVICES simulated Tasmota devices online (versions 5.14 to 15.0, ESP8266 and ESP32)"

echo "== tasmota-fleet serve for ${SECONDS_TO_RUN}s"
build/cli/tasmota-fleet serve --broker "mqtt://127.0.0.1:$port" --db "$run/fleet.db" \
  --exit-after "$SECONDS_TO_RUN" --log-level warn
echo "== tasmota-fleet devices"
build/cli/tasmota-fleet devices --db "$run/fleet.db"
