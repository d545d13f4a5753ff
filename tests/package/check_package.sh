#!/usr/bin/env bash
# The Debian package, as a user installs it: built by scripts/package.sh, lintian reports no error, the
# files are where Debian puts them (the configuration a conffile, the unit in /lib/systemd/system), the
# unit passes systemd-analyze verify and its hardening scores "OK" where systemd-analyze is present,
# and the packaged programs run from the package's own paths (extracted with dpkg-deb -x).
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "check_package: $*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/fleet-package-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

deb=$(scripts/package.sh 2>"$tmp/package.log") || { cat "$tmp/package.log" >&2; fail "scripts/package.sh failed"; }
echo "package: $deb"

# lintian: no error (warnings are printed: no manual pages yet).
lintian --fail-on error --tag-display-limit 0 "$deb" >"$tmp/lintian.txt" 2>&1 || { cat "$tmp/lintian.txt" >&2; fail "lintian reports errors"; }
grep -v "root privileges" "$tmp/lintian.txt" || true

# Where the files are.
dpkg-deb -c "$deb" | awk '{ print $6 }' >"$tmp/files.txt"
for f in ./usr/bin/tasmota-fleet ./usr/bin/tasmota-sim ./lib/systemd/system/tasmota-fleet.service \
         ./etc/tasmota-fleet/tasmota-fleet.conf ./usr/share/doc/tasmota-fleet/copyright \
         ./usr/share/doc/tasmota-fleet/changelog.gz ./usr/share/doc/tasmota-fleet/README.md; do
  grep -qxF "$f" "$tmp/files.txt" || fail "$f is not in the package"
done
! grep -E '^\./(usr/local|home|root|tmp|var)/' "$tmp/files.txt" || fail "files outside Debian's places (the state directory is made by postinst)"
! grep -F 'mqtt.pw' "$tmp/files.txt" || fail "the MQTT password file is shipped (postinst makes it, empty, mode 0640)"
dpkg-deb -c "$deb" | awk '$2 != "root/root" { print; bad = 1 } END { exit bad }' || fail "files not owned by root"
mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
grep -qxF /etc/tasmota-fleet/tasmota-fleet.conf "$tmp/control/conffiles" || fail "the configuration is not a conffile"
for s in postinst prerm postrm; do
  [ -x "$tmp/control/$s" ] || fail "$s is missing or not executable"
  sh -n "$tmp/control/$s" || fail "$s: syntax"
done
grep -q 'adduser --system' "$tmp/control/postinst" || fail "postinst makes no system user"
depends=$(dpkg-deb -f "$deb" Depends)
for d in adduser libc6 libpaho-mqttpp3 libsqlite3 libtcmalloc-minimal4; do
  [[ $depends == *"$d"* ]] || fail "Depends lacks $d: $depends"
done

# The programs from the package's paths.
root="$tmp/root"
mkdir "$root"
dpkg-deb -x "$deb" "$root"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' build/CMakeCache.txt)
[ "$("$root/usr/bin/tasmota-fleet" --version)" = "tasmota-fleet $version" ] || fail "tasmota-fleet --version: $("$root/usr/bin/tasmota-fleet" --version)"
[ "$("$root/usr/bin/tasmota-sim" --version)" = "tasmota-sim $version" ] || fail "tasmota-sim --version"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "the package's version is not the program's"
conf="$root/etc/tasmota-fleet/tasmota-fleet.conf"
# The shipped configuration as the unit reads it; its [serve] section too (an option uncommented there
# takes effect). The database and firmware paths point into /var/lib: overridden, the command line wins.
sed 's|^# ota-listen = .*|ota-listen = "127.0.0.1:0"|' "$conf" >"$tmp/fleet.conf"
grep -q '^ota-listen = "127.0.0.1:0"' "$tmp/fleet.conf" || fail "the conffile has no ota-listen line to uncomment"
"$root/usr/bin/tasmota-fleet" --config "$tmp/fleet.conf" --db "$tmp/fleet.db" --firmware-dir "$tmp/fw" --broker mqtt://127.0.0.1:1 \
  serve --exit-after 1 >"$tmp/serve.log" 2>&1 || { cat "$tmp/serve.log" >&2; fail "serve with the packaged configuration failed"; }
grep -q 'OTA server on 127.0.0.1:' "$tmp/serve.log" || { cat "$tmp/serve.log" >&2; fail "the [serve] section of the configuration was not applied"; }
"$root/usr/bin/tasmota-fleet" --config "$conf" --db "$tmp/fleet.db" devices >"$tmp/devices.txt" 2>&1 ||
  { cat "$tmp/devices.txt" >&2; fail "devices from the package's binary failed"; }

# The unit. systemd-analyze verify wants its ExecStart to exist: pointed at the extracted binary.
unit="$root/lib/systemd/system/tasmota-fleet.service"
grep -qx 'ExecStart=/usr/bin/tasmota-fleet --config /etc/tasmota-fleet/tasmota-fleet.conf serve' "$unit" || fail "ExecStart changed"
for k in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes ReadWritePaths=/var/lib/tasmota-fleet \
         Restart=on-failure User=tasmota-fleet KillSignal=SIGTERM; do
  grep -qx "$k" "$unit" || fail "the unit lacks $k"
done
if command -v systemd-analyze >/dev/null; then
  mkdir "$tmp/unit"
  sed "s|^ExecStart=/usr/bin/tasmota-fleet|ExecStart=$root/usr/bin/tasmota-fleet|" "$unit" >"$tmp/unit/tasmota-fleet.service"
  systemd-analyze verify "$tmp/unit/tasmota-fleet.service" || fail "systemd-analyze verify"
  # Exposure 0 (locked down) to 10; "OK" is below 2 (threshold on its 0-100 scale).
  systemd-analyze security --offline=yes --threshold=20 --no-pager "$tmp/unit/tasmota-fleet.service" >"$tmp/security.txt" 2>&1 ||
    { tail -5 "$tmp/security.txt" >&2; fail "the unit's exposure is above 2.0"; }
  tail -1 "$tmp/security.txt"
else
  echo "systemd-analyze not present: the unit is not verified here"
fi
echo "check_package: ok"
