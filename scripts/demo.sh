#!/usr/bin/env bash
# The demo: a local mosquitto on a free loopback port, a simulated fleet of 20 Tasmota devices of
# mixed versions, the tasmota-fleet daemon taking the inventory, the inventory table; then the plans,
# test images for every hop in the firmware store, and a staged rollout of the whole fleet to the latest
# release (a canary, then waves, at most 8 devices at once), followed live: each device's hops through
# the checkpoints with backup, Reset 6, upgrade over the built-in OTA server, checks, restore and
# verification; then the inventory table again. Everything runs in demo-run/ and stops when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
DEVICES="${DEVICES:-20}"
SECONDS_TO_RUN="${SECONDS_TO_RUN:-8}"
run=demo-run
rm -rf "$run" && mkdir -p "$run"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

. scripts/broker.sh
start_broker "$run" || exit 1
pids+=($broker_pid)
echo "== mosquitto on 127.0.0.1:$port"

build/sim/tasmota-sim --broker "mqtt://127.0.0.1:$port" --count "$DEVICES" --tele-scale 0.02 --restart-delay-ms 400 \
  --web-port 0 --web-port-file "$run/web.port" --ready-file "$run/sim.ready" >"$run/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$run/sim.ready" ] && break; sleep 0.1; done
echo "== $DEVICES simulated Tasmota devices online (versions 5.14 to 15.0, ESP8266 and ESP32)"

F=build/cli/tasmota-fleet
echo "== tasmota-fleet serve (inventory, control API, OTA server on a free loopback port)"
$F serve --broker "mqtt://127.0.0.1:$port" --db "$run/fleet.db" --firmware-dir "$run/firmware" \
  --ota-listen "127.0.0.1:0" --log-level warn 2>"$run/fleet.log" &
pids+=($!)
sleep "$SECONDS_TO_RUN"
echo "== tasmota-fleet devices"
$F devices --db "$run/fleet.db"

echo "== tasmota-fleet plan --all --to latest   (one line per device: its hops through the checkpoints)"
$F plan --db "$run/fleet.db" --all --to latest --json >"$run/plans.json" || true
$F plan --db "$run/fleet.db" --all --to latest | grep -E '^[^ ]' | head -40 || true
echo "== test images into the firmware store: every hop of every plan (offline; 'firmware fetch' takes them from upstream)"
S=build/sim/tasmota-sim
$S --make-images-for "$run/plans.json" --image-dir "$run/images" >"$run/images.tsv"
while IFS=$'\t' read -r path version build chip file; do
  $F --db "$run/fleet.db" --firmware-dir "$run/firmware" firmware add "$file" --version "$version" --build "$build" --chip "$chip" \
    --path "$path" >/dev/null
done <"$run/images.tsv"
echo "   $(wc -l <"$run/images.tsv") images added"
web_port=$(cat "$run/web.port")
echo "== tasmota-fleet rollout start --all --to latest --canary 1 --waves 25%,100% --max-parallel 8 --health-window 3 --follow"
$F --db "$run/fleet.db" --broker "mqtt://127.0.0.1:$port" --log-level warn rollout start --all --to latest --canary 1 \
  --waves 25%,100% --max-parallel 8 --health-window 3 --web-port "$web_port" --follow || true
sleep 2
echo "== tasmota-fleet devices   (after the rollout)"
$F devices --db "$run/fleet.db"
echo "== tasmota-fleet rollout show 1"
$F --db "$run/fleet.db" rollout show 1 || true
echo "== what the OTA server logged (first lines)"
sqlite3 -header -column "$run/fleet.db" "SELECT client_ip, device_mac, path, status, bytes_sent, completed FROM ota_downloads LIMIT 12"
