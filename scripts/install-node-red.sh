#!/usr/bin/env bash
# Node-RED for the integration test of the shipped flow (tests/node-red/package.json), into
# build/node-red; prints the path of its node-red program. Only what that test needs: run by it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/node-red
bin="$dir/node_modules/.bin/node-red"
want=$(python3 -c 'import json; print(json.load(open("tests/node-red/package.json"))["dependencies"]["node-red"])')
have=$( [ -f "$dir/node_modules/node-red/package.json" ] && node -e "console.log(require('./$dir/node_modules/node-red/package.json').version)" || echo none)
if [ "$have" != "$want" ]; then
  command -v npm >/dev/null || { SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo; $SUDO apt-get install -y -q nodejs npm >&2; }
  mkdir -p "$dir"
  cp tests/node-red/package.json "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
echo "$PWD/$bin"
