#!/usr/bin/env bash
# Runs Python's `websockets` package, a second real client implementation, against
# `switchboard serve --mode echo` (shards/tests/python/echo_client.py), then stops the server with SIGTERM
# and checks that it drains and exits 0.
#
# The client is installed into a venv under .tools/pyclient (python3 -m venv + pip; nothing system-wide).
# Usage: bash scripts/python-client-test.sh             # debug binary
#        PYCLIENT_RELEASE=1 bash scripts/python-client-test.sh   # release binary
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.tools/pyclient"
websockets_version="15.0.1"

if ! "$venv/bin/python" -c "import websockets, sys; sys.exit(websockets.__version__ != '$websockets_version')" 2>/dev/null; then
  echo "python-client: installing websockets $websockets_version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "websockets==$websockets_version"
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
if [ -n "${PYCLIENT_RELEASE:-}" ]; then
  cargo build --release --locked -p switchboard-shards --bin switchboard
  binary="$target_dir/release/switchboard"
else
  cargo build --locked -p switchboard-shards --bin switchboard
  binary="$target_dir/debug/switchboard"
fi

port=$("$venv/bin/python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
printf 'admin_listen = "off"\ndata_dir = "%s/data"\n' "$work" >"$work/serve.toml"

"$binary" serve --config "$work/serve.toml" --mode echo --listen "127.0.0.1:$port" --shards 1 >"$work/server.log" 2>&1 &
server_pid=$!
ready=""
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ready=1; break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "python-client: the server did not start"; cat "$work/server.log"; exit 1
fi

status=0
timeout 300 "$venv/bin/python" shards/tests/python/echo_client.py "ws://127.0.0.1:$port/ws" || status=$?

kill -TERM "$server_pid"
exit_code=""
for _ in $(seq 1 400); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid" && exit_code=0 || exit_code=$?
    break
  fi
  sleep 0.1
done
server_pid_done="$server_pid"
server_pid=""
if [ -z "$exit_code" ]; then
  echo "python-client: the server did not exit within 40 s of SIGTERM"; kill -KILL "$server_pid_done" || true
  tail -n 30 "$work/server.log"; exit 1
fi
if [ "$exit_code" != 0 ]; then
  echo "python-client: the server exited with $exit_code after SIGTERM"; tail -n 30 "$work/server.log"; exit 1
fi
if [ "$status" != 0 ]; then
  echo "python-client: the client reported failures (exit $status)"; tail -n 30 "$work/server.log"; exit 1
fi
echo "python-client: websockets client passed; server drained and exited 0"
