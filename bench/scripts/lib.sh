# Shared by the bench scripts (sourced, not run).

# `wait_for_server PID PORT LOG`: waits (at most 10 s) until 127.0.0.1:PORT accepts; exits the script
# with the server's log if process PID ends first (a bad config, a busy port).
wait_for_server() {
  local pid=$1 port=$2 log=$3
  for _ in $(seq 1 100); do
    (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null && return 0
    kill -0 "$pid" 2> /dev/null || { cat "$log"; echo "the server did not start"; exit 1; }
    sleep 0.1
  done
  cat "$log"; echo "the server did not listen on port $port within 10 s"; exit 1
}

# `write_echo_config FILE DATA_DIR`: the bench's `switchboard serve --mode echo` config (as `switchboard-bench`
# writes it): no admin listener, its own data directory, room for 200,000 connections on one shard, and no
# per-connection frame rate limit in the way.
write_echo_config() {
  cat > "$1" <<TOML
admin_listen = "off"
data_dir = "$2"

[limits]
connections_max = 200000
connections_per_shard_max = 200000
frames_per_second_max = 10000000
TOML
}

# `stop_pids PID...`: SIGTERM to each non-empty PID (processes this script started), then up to 10 s for them to
# end (SIGKILL after that). A server drains its connections after SIGTERM and holds its port meanwhile, so a
# script that starts the next server on the same port at once must wait for this one (an A/B loop once
# measured the old server draining instead of the new one).
stop_pids() {
  local pid alive
  for pid in "$@"; do if [ -n "$pid" ]; then kill "$pid" 2> /dev/null || true; fi; done
  for _ in $(seq 100); do
    alive=0
    for pid in "$@"; do if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then alive=1; fi; done
    if [ "$alive" = 0 ]; then return 0; fi
    sleep 0.1
  done
  for pid in "$@"; do if [ -n "$pid" ]; then kill -9 "$pid" 2> /dev/null || true; fi; done
}
