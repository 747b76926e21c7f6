#!/usr/bin/env bash
# Where the echo server's CPU goes in one cell (issue 19): the server pinned to CPU 0, uWebSockets'
# `load_test` (or switchboard-loadgen) pinned to CPU 1, `perf record -g` on the server for SECONDS.
# Never part of CI. Needs perf and target/uws/load_test (see README, Performance).
#
#   bash bench/scripts/profile-echo.sh 1000 16384 [SECONDS] [OUT]      # connections, payload bytes
#   SERVER=uws bash bench/scripts/profile-echo.sh 1000 16384            # profile uWebSockets instead
#   CLIENT=loadgen bash bench/scripts/profile-echo.sh 1000 16384        # switchboard-loadgen drives instead
#   SB_BIN=/tmp/switchboard-old bash bench/scripts/profile-echo.sh 1000 1024   # another build (A/B)
#
# Prints the split by binary, the call-chain totals ≥ 4% and user-space self time ≥ 0.3%, and the server's
# CPU µs per message over the window (from /proc/PID/stat and load_test's own msg/s lines).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
CONNS=${1:?connections}; BYTES=${2:?payload bytes}; SECONDS_=${3:-8}; OUT=${4:-/dev/stdout}
SERVER=${SERVER:-switchboard}; CLIENT=${CLIENT:-load_test}; PORT=${PORT:-23456}
command -v perf > /dev/null || { echo "profile-echo: perf is missing"; exit 1; }
[ -x target/uws/load_test ] || { echo "profile-echo: target/uws/load_test is not built"; exit 1; }
server=""; client=""
work=$(mktemp -d); trap 'stop_pids "$client" "$server"; rm -rf "$work"' EXIT
write_echo_config "$work/config.toml" "$work/data"
if [ "$SERVER" = uws ]; then
  taskset -c 0 target/uws/uws_echo 127.0.0.1 "$PORT" > "$work/server.log" 2>&1 & server=$!
else
  taskset -c 0 "${SB_BIN:-target/release/switchboard}" serve --mode echo --shards 1 --listen "127.0.0.1:$PORT" \
    --config "$work/config.toml" > "$work/server.log" 2>&1 & server=$!
fi
for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && break; sleep 0.1; done
if [ "$CLIENT" = loadgen ]; then
  taskset -c 1 target/release/switchboard-loadgen --url "ws://127.0.0.1:$PORT/" --closed-loop --threads 1 \
    --connections "$CONNS" --size "$BYTES" --duration "$((SECONDS_ + 8))" --quiet \
    --out "$work/loadgen.json" > "$work/client.log" 2>&1 & client=$!
else
  taskset -c 1 stdbuf -oL target/uws/load_test "$CONNS" 127.0.0.1 "$PORT" 0 0 "$BYTES" > "$work/client.log" 2>&1 & client=$!
fi
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
t0=$(ticks); l0=$(wc -l < "$work/client.log")
perf record -q -F 2999 -g -o "$work/perf.data" -p "$server" -- sleep "$SECONDS_" 2> /dev/null
t1=$(ticks)
if [ "$CLIENT" = loadgen ]; then
  wait "$client" || true
  rate=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['throughput']['received_per_sec'])" "$work/loadgen.json")
else
  rate=$(tail -n +"$((l0 + 1))" "$work/client.log" | awk -F': ' '/Msg\/sec/ {s += $2; n++} END {if (n) print s / n; else print 0}')
fi
{
  echo "# $SERVER, $CONNS connections x $BYTES B, $CLIENT client, perf -F 2999 -g for ${SECONDS_} s at $(git rev-parse --short HEAD)"
  awk -v t0="$t0" -v t1="$t1" -v s="$SECONDS_" -v r="$rate" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { cpu = (t1 - t0) / hz; printf "# server CPU %.2f s over ~%d s; client-reported %.0f msg/s; %.2f us/msg (perf overhead included)\n", cpu, s, r, (r > 0 ? cpu * 1e6 / (r * s) : 0) }'
  echo; echo "## by binary"
  # `-g none` everywhere: the data has call chains, and `head` closing the pipe early must not end the script.
  perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2> /dev/null | grep '%' | head -6 || true
  echo; echo "## call chain totals (children), >= 4%"
  perf report -i "$work/perf.data" --children --sort sym --stdio -g none --percent-limit 4 2> /dev/null | grep '%' | head -45 || true
  echo; echo "## self, >= 0.3%"
  perf report -i "$work/perf.data" --no-children --sort sym --stdio -g none --percent-limit 0.3 2> /dev/null | grep '%' | head -60 || true
} > "$OUT"
