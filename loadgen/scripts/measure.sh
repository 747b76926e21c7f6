#!/usr/bin/env bash
# The documented loadgen measurements (README "Load generator"): closed-loop echo at 64 B / 1 KiB with
# 100 and 1000 connections, then an idle run of IDLE_CONNECTIONS connections. Server pinned to CPU 0
# with one shard, loadgen pinned to CPU 1 with one thread. Not part of CI (it takes ~2 minutes).
#
# Usage: bash loadgen/scripts/measure.sh [BIN_DIR]
#   BIN_DIR holds release `switchboard` and `switchboard-loadgen` (default target/release).
#   ECHO_SIZES="" skips the echo runs; IDLE_CONNECTIONS, IDLE_SECS, CONNECT_RATE, ECHO_SECS adjust the runs.
#   Results: $OUT/*.json (default /tmp/loadgen-measure) and a summary on stdout.
set -euo pipefail
BIN=${1:-target/release}
OUT=${OUT:-/tmp/loadgen-measure}
PORT=${PORT:-17900}
ECHO_SECS=${ECHO_SECS:-10}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-200000}
IDLE_SECS=${IDLE_SECS:-80}
CONNECT_RATE=${CONNECT_RATE:-4000}
mkdir -p "$OUT"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

start_server() { # $1: config file
  taskset -c 0 "$BIN/switchboard" serve --config "$1" --listen "127.0.0.1:$PORT" --mode echo --shards 1 \
    --log-level error > "$OUT/server.log" 2>&1 &
  SERVER=$!
  sleep 3 # the shard preallocates its connection table before listening
}
stop_server() { kill -TERM "$SERVER"; wait "$SERVER" || true; }

printf 'admin_listen = "off"\n' > "$OUT/echo.toml"
# Room for 250,000 connections on the one shard, and handshake and pong deadlines that a loaded 2-core
# machine meets while 200,000 upgrades queue up (defaults: 10 s and 2..10 s).
printf 'admin_listen = "off"\n[limits]\nconnections_max = 250000\nconnections_per_shard_max = 250000\nhandshake_timeout_ms = 120000\npong_timeout_ms_min = 60000\npong_timeout_ms_max = 60000\n' \
  > "$OUT/idle.toml"

for size in ${ECHO_SIZES-64 1024}; do
  for conns in 100 1000; do
    start_server "$OUT/echo.toml"
    ticks0=$(cpu_ticks "$SERVER")
    taskset -c 1 "$BIN/switchboard-loadgen" --url "ws://127.0.0.1:$PORT/" --closed-loop --threads 1 \
      --connections "$conns" --size "$size" --duration "$ECHO_SECS" --quiet \
      --out "$OUT/echo-$size-$conns.json" > "$OUT/echo-$size-$conns.txt" || echo "loadgen exit $?"
    ticks1=$(cpu_ticks "$SERVER")
    echo "== echo size=$size connections=$conns: server cpu $(( (ticks1 - ticks0) ))/100 s over ${ECHO_SECS}+ s, server rss $(rss_kib "$SERVER") KiB"
    grep -E "messages:|echo round trip|loadgen cpu|result|errors:" "$OUT/echo-$size-$conns.txt"
    stop_server
  done
done

start_server "$OUT/idle.toml"
rss0=$(rss_kib "$SERVER"); ticks0=$(cpu_ticks "$SERVER")
taskset -c 1 "$BIN/switchboard-loadgen" --url "ws://127.0.0.1:$PORT/" --scenario idle --threads 1 \
  --connections "$IDLE_CONNECTIONS" --connect-rate "$CONNECT_RATE" --duration "$IDLE_SECS" \
  --source-addrs 127.0.0.2-127.0.0.60 --quiet --out "$OUT/idle.json" > "$OUT/idle.txt" &
LOADGEN=$!
peak=0; lg_peak=0
while kill -0 "$LOADGEN" 2>/dev/null; do
  r=$(rss_kib "$SERVER"); (( r > peak )) && peak=$r
  l=$(rss_kib "$LOADGEN" 2>/dev/null || echo 0); (( l > lg_peak )) && lg_peak=$l
  sleep 2
done
wait "$LOADGEN" || echo "loadgen exit $?"
ticks1=$(cpu_ticks "$SERVER")
echo "== idle connections=$IDLE_CONNECTIONS: server rss baseline $rss0 KiB peak $peak KiB," \
  "$(( (peak - rss0) * 1024 / IDLE_CONNECTIONS )) B/connection; loadgen peak rss $lg_peak KiB;" \
  "server cpu $(( ticks1 - ticks0 ))/100 s"
grep -E "connections:|tcp connect|ws upgrade|loadgen cpu|result|errors:" -A3 "$OUT/idle.txt" | head -20
stop_server
