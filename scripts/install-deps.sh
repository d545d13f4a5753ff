#!/usr/bin/env bash
# Installs the Debian 12 packages tasmota-fleet builds, tests and demos with. Idempotent: when every
# package is already there it does nothing (no apt-get update), so repeated runs cost nothing.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libpaho-mqttpp-dev libpaho-mqtt-dev libmosquitto-dev
  libsqlite3-dev sqlite3 nlohmann-json3-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev
  libcpp-httplib-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libgoogle-perftools-dev
  mosquitto mosquitto-clients openssl
  dpkg-dev lintian
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
