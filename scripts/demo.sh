#!/usr/bin/env bash
# The demo: a local mosquitto on a free loopback port, a simulated fleet of 20 Tasmota devices of
# mixed versions, the tasmota-fleet daemon taking the inventory, the inventory table; then test images
# in the firmware store, the plan for one 7.2.0 device, and its careful upgrade to 9.1.0 through the
# 8.5.1 checkpoint (with the -minimal step): at each hop backup, Reset 6, upgrade over the built-in OTA
# server, checks, restore and verification. Everything runs in demo-run/ and stops when the script ends.
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
  --web-port 0 --web-port-file "$run/web.port" --ready-file "$run/sim.ready" >"$run/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$run/sim.ready" ] && break; sleep 0.1; done
echo "== $DEVICES simulated Tasmota devices online (versions 5.14 to 15.0, ESP8266 and ESP32)"

F=build/cli/tasmota-fleet
ota_port=""
for candidate in $(shuf -i 20000-60000 -n 50); do
  if [ "$candidate" != "$port" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then ota_port=$candidate; break; fi
done
echo "== test images into the firmware store: what the 8.5.1 checkpoint and 9.1.0 need (firmware check below says so)"
S=build/sim/tasmota-sim
$S --make-image "$run/tasmota-lite-8.5.1.bin" --image-version 8.5.1 --image-build tasmota-lite --image-kb 540
$S --make-image "$run/tasmota-minimal-8.5.1.bin" --image-version 8.5.1 --image-build tasmota-minimal --image-kb 300
$S --make-image "$run/tasmota-9.1.0.bin.gz" --image-version 9.1.0 --image-build tasmota --image-kb 600 --gzip
$F --db "$run/fleet.db" --firmware-dir "$run/firmware" firmware add "$run/tasmota-lite-8.5.1.bin" --version 8.5.1 --build tasmota-lite
$F --db "$run/fleet.db" --firmware-dir "$run/firmware" firmware add "$run/tasmota-minimal-8.5.1.bin" --version 8.5.1 --build tasmota-minimal
$F --db "$run/fleet.db" --firmware-dir "$run/firmware" firmware add "$run/tasmota-9.1.0.bin.gz" --version 9.1.0 --build tasmota

echo "== tasmota-fleet serve (inventory, OTA server on 127.0.0.1:$ota_port)"
$F serve --broker "mqtt://127.0.0.1:$port" --db "$run/fleet.db" --firmware-dir "$run/firmware" \
  --ota-listen "127.0.0.1:$ota_port" --log-level warn 2>"$run/fleet.log" &
pids+=($!)
sleep "$SECONDS_TO_RUN"
echo "== tasmota-fleet devices"
$F devices --db "$run/fleet.db"

device=$(sqlite3 "$run/fleet.db" "SELECT topic FROM devices WHERE version = '7.2.0' AND chip = 'ESP8266' LIMIT 1" 2>/dev/null || true)
if [ -z "$device" ]; then
  echo "(no 7.2.0 device in this fleet: no upgrade shown)"
  exit 0
fi
echo "== tasmota-fleet plan --to 9.1.0 $device   (the URLs point at the built-in OTA server)"
$F plan --db "$run/fleet.db" --to 9.1.0 "$device" || true
echo "== tasmota-fleet firmware check --to 9.1.0 $device"
$F --db "$run/fleet.db" --firmware-dir "$run/firmware" firmware check --to 9.1.0 "$device" || true
web_port=$(cat "$run/web.port")
echo "== tasmota-fleet upgrade $device --to 9.1.0"
$F --db "$run/fleet.db" --broker "mqtt://127.0.0.1:$port" --log-level warn upgrade "$device" --to 9.1.0 --web-port "$web_port" || true
for _ in $(seq 50); do
  [ "$(sqlite3 "$run/fleet.db" "SELECT version || '/' || online FROM devices WHERE topic = '$device'" 2>/dev/null)" = "9.1.0/1" ] && break
  sleep 0.2
done
$F devices --db "$run/fleet.db" "$device"
echo "== tasmota-fleet backups $device   (one per checkpoint: the 8.5.1 one holds the settings restored there)"
$F --db "$run/fleet.db" backups "$device"
echo "== what the OTA server logged"
sqlite3 -header -column "$run/fleet.db" "SELECT client_ip, device_mac, path, status, bytes_sent, completed FROM ota_downloads"
