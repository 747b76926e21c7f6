#!/usr/bin/env bash
# A/B of echo server builds (issue 19): each binary in turn, ROUNDS times interleaved, serves
# `switchboard serve --mode echo --shards 1` pinned to CPU 0 while `switchboard-loadgen --closed-loop` (one
# thread, CPU 1) drives CONNS connections × BYTES for SECONDS. Per run: msg/s and the server's CPU per message
# from /proc (its whole life: start, connects and the run), split into user and system time; then the median
# of each per binary. No perf, so nothing but the server and the load generator runs. The name `uws` stands for
# uWebSockets' echo example (`target/uws/uws_echo`, or under `$UWS_BIN_DIR`), run the same way.
#
#   cp target/release/switchboard /tmp/sb-before     # build A, keep it
#   … change, cargo build --release …
#   bash bench/scripts/ab-echo.sh 1000 1024 4 6 /tmp/sb-before target/release/switchboard
#   bash bench/scripts/ab-echo.sh 100 16384 5 6 target/release/switchboard uws   # against uWebSockets' echo
#
# Read the user column for a change in Switchboard's own code: loopback system time varies ±15% between runs
# on this VM (the kernel's TCP work, the same for every build), which hides a few % in the total. Never part
# of CI; bounded by ROUNDS × binaries × SECONDS; servers are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
CONNS=${1:?connections}; BYTES=${2:?payload bytes}; ROUNDS=${3:?rounds}; SECONDS_=${4:?seconds per run}
shift 4
[ "$#" -ge 1 ] || { echo "ab-echo: name at least one server binary"; exit 1; }
LOADGEN=${CARGO_TARGET_DIR:-target}/release/switchboard-loadgen
[ -x "$LOADGEN" ] || { echo "ab-echo: $LOADGEN is not built (cargo build --release -p switchboard-loadgen)"; exit 1; }
PORT=${PORT:-23461}
UWS=${UWS_BIN_DIR:-target/uws}/uws_echo
work=$(mktemp -d); server=""
trap 'stop_pids "$server"; rm -rf "$work"' EXIT
write_echo_config "$work/config.toml" "$work/data"
: > "$work/runs.tsv"
for round in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    rm -rf "$work/data"
    if [ "$bin" = uws ]; then
      [ -x "$UWS" ] || { echo "ab-echo: $UWS is not built (see README, uWebSockets)"; exit 1; }
      taskset -c 0 "$UWS" 127.0.0.1 "$PORT" > "$work/server.log" 2>&1 & server=$!
    else
      taskset -c 0 "$bin" serve --mode echo --shards 1 --listen "127.0.0.1:$PORT" --config "$work/config.toml" \
        > "$work/server.log" 2>&1 & server=$!
    fi
    wait_for_server "$server" "$PORT" "$work/server.log"
    taskset -c 1 "$LOADGEN" --url "ws://127.0.0.1:$PORT/" --closed-loop --threads 1 --connections "$CONNS" \
      --size "$BYTES" --duration "$SECONDS_" --quiet --out "$work/loadgen.json" > /dev/null 2>&1 || true
    read -r utime stime < <(awk '{print $14, $15}' "/proc/$server/stat")
    # Sleeps of every server thread (voluntary context switches): how often the shard waited for work.
    sleeps=$(cat /proc/"$server"/task/*/status 2> /dev/null | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n + 0}')
    stop_pids "$server"; server=""
    python3 - "$work/loadgen.json" "$utime" "$stime" "$SECONDS_" "$bin" "$round" "$sleeps" >> "$work/runs.tsv" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
user, system = int(sys.argv[2]) / 100, int(sys.argv[3]) / 100   # USER_HZ
messages = report["throughput"]["received_per_sec"] * float(sys.argv[4])
if messages <= 0 or report.get("errors", {}).get("total", 0):
    print(f"{sys.argv[6]}\t{sys.argv[5]}\tFAILED\t0\t0\t0\t0")
else:
    us = lambda s: s * 1e6 / messages
    sleeps = int(sys.argv[7]) * 1000 / messages
    print(f"{sys.argv[6]}\t{sys.argv[5]}\t{messages / float(sys.argv[4]):.0f}\t{us(user + system):.3f}\t{us(user):.3f}\t{us(system):.3f}\t{sleeps:.1f}")
PY
    tail -n 1 "$work/runs.tsv" | awk -F'\t' '{printf "round %s  %-32s %9s msg/s  %6s us/msg  user %6s  sys %6s  sleeps/1k msgs %5s\n", $1, $2, $3, $4, $5, $6, $7}'
  done
done
echo "medians over $ROUNDS round(s), $CONNS connections x $BYTES B, $SECONDS_ s each:"
python3 - "$work/runs.tsv" "$@" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
for binary in sys.argv[2:]:
    ok = [r for r in rows if r[1] == binary and r[2] != "FAILED"]
    if not ok:
        print(f"  {binary:<32} no successful run")
        continue
    med = lambda i: statistics.median(float(r[i]) for r in ok)
    print(f"  {binary:<32} {med(2):9.0f} msg/s  {med(3):6.3f} us/msg  user {med(4):6.3f}  sys {med(5):6.3f}  sleeps/1k msgs {med(6):5.1f}  ({len(ok)} run(s))")
PY
