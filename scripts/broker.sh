# Sourced by the demo and the benches: a mosquitto of their own on a free loopback port.
#   start_broker RUN_DIR [EXTRA_CONF_LINE...]   sets $port and $broker_pid (the caller stops it)
#   free_port                                   prints a port nobody listens on
# Ports are taken below the kernel's ephemeral range (ip_local_port_range, 32768 up by default): a port in
# it can still be held by one of the 10,000 client sockets of an earlier run, and mosquitto then fails
# with "Address already in use" although nothing listens there (what made "the simulator did not connect"
# about one bench/ingest run in six). Tried again on another port if mosquitto does not come up.

free_port() {
  local low=20000 high=32767 candidate
  read -r ephemeral _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && [ "$ephemeral" -gt "$((low + 1000))" ] && high=$((ephemeral - 1))
  for candidate in $(shuf -i "$low-$high" -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then echo "$candidate"; return 0; fi
  done
  return 1
}

start_broker() {
  local run=$1 attempt
  shift
  broker_pid=""
  for attempt in 1 2 3 4 5; do
    port=$(free_port) || continue
    { printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n' "$port"
      for line in "$@"; do echo "$line"; done
      [ "$(id -u)" -eq 0 ] && echo "user root"; } >"$run/mosquitto.conf"
    mosquitto -c "$run/mosquitto.conf" >"$run/mosquitto.log" 2>&1 &
    broker_pid=$!
    for _ in $(seq 50); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      kill -0 "$broker_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$broker_pid" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill "$broker_pid" 2>/dev/null || true
    broker_pid=""
  done
  echo "mosquitto did not start:" >&2
  cat "$run/mosquitto.log" >&2
  return 1
}
