#!/usr/bin/env bash
# Idle connections on one shard: process RSS per connection and the CPU their heartbeats cost (issue 3's
# "100,000 idle connections at ≤ 1 KiB of RSS each; their heartbeats cost < 5% of one core").
#
#   bash bench/scripts/idle.sh                     # CONNECTIONS=100000 DURATION=95 WINDOW_FROM=25 WINDOW_TO=85
#   CONNECTIONS=10000 bash bench/scripts/idle.sh                 # fewer connections, same windows
#   NO_BUILD=1 bash bench/scripts/idle.sh          # use the release binaries already built
#
# One `switchboard serve --mode echo --shards 1` pinned to CPU 0 with the default heartbeat settings
# (interval 5–30 s, adaptive); `switchboard-loadgen --scenario idle` pinned to CPU 1 opens CONNECTIONS
# WebSocket connections (10,000/s, from 127.0.0.2–9 so the ephemeral ports suffice), answers every ping,
# holds them DURATION seconds, then closes them all with a Close handshake.
#
# The server's VmRSS and CPU time (utime + stime from /proc/PID/stat) are sampled every 0.2 s into
# bench/results/idle-<CONNECTIONS>-samples.tsv (seconds since the load generator started, RSS kB, CPU ticks).
# The summary, bench/results/idle-<CONNECTIONS>.json, reports in bytes per established connection above the
# idle server's RSS before the run:
#   - steady:  the median RSS over the window [WINDOW_FROM, WINDOW_TO] s (all connections open and idle);
#   - hold:    the highest RSS from the first sample to WINDOW_TO (the connect ramp and the hold);
#   - overall: the highest RSS of the whole run, the closing handshakes at the end included;
# and the heartbeat CPU as the server's CPU time over the window, in % of one core. The window starts after
# the ramp (CONNECTIONS / 10,000 s) and the first round of pings, and is at least 2× the 30 s maximum
# heartbeat interval long, so every connection is pinged in it.
#
# Bounded: the load generator runs DURATION s plus its close timeout; the server is killed by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
CONNECTIONS=${CONNECTIONS:-100000}
DURATION=${DURATION:-95}
WINDOW_FROM=${WINDOW_FROM:-25}
WINDOW_TO=${WINDOW_TO:-85}
PORT=${PORT:-7897}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
TARGET=${CARGO_TARGET_DIR:-target}
if [ "$WINDOW_TO" -ge "$DURATION" ] || [ "$WINDOW_FROM" -ge "$WINDOW_TO" ]; then
  echo "need WINDOW_FROM < WINDOW_TO < DURATION (got $WINDOW_FROM, $WINDOW_TO, $DURATION)" >&2
  exit 2
fi
[ -n "${NO_BUILD:-}" ] || cargo build -q --release -p switchboard-shards -p switchboard-loadgen
WORK=$(mktemp -d)
SERVER=""
LOADGEN=""
# `|| true`: under `set -e` a failing `kill` (the process already ended) would end the trap before the rest.
trap 'if [ -n "$LOADGEN" ]; then kill "$LOADGEN" 2>/dev/null || true; fi; if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT
mkdir -p bench/results
SAMPLES="bench/results/idle-$CONNECTIONS-samples.tsv"
SUMMARY="bench/results/idle-$CONNECTIONS.json"

cat > "$WORK/serve.toml" <<TOML
listen = "127.0.0.1:$PORT"
shards = 1
mode = "echo"
admin_listen = "off"
data_dir = "$WORK/data"
[limits]
connections_max = 200000
connections_per_shard_max = 200000
TOML
taskset -c "$SERVER_CPU" "$TARGET/release/switchboard" serve --config "$WORK/serve.toml" \
  --log-level warn 2> "$WORK/serve.log" &
SERVER=$!
wait_for_server "$SERVER" "$PORT" "$WORK/serve.log"
sleep 1
BASE_KB=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER/status")

taskset -c "$LOADGEN_CPU" "$TARGET/release/switchboard-loadgen" --url "ws://127.0.0.1:$PORT/" \
  --scenario idle --connections "$CONNECTIONS" --duration "$DURATION" --threads 1 \
  --source-addrs 127.0.0.2-127.0.0.9 --quiet --out "$WORK/loadgen.json" > "$WORK/loadgen.txt" 2>&1 &
LOADGEN=$!
START=$(date +%s.%N)
printf 'seconds\trss_kb\tcpu_ticks\n' > "$SAMPLES"
while kill -0 "$LOADGEN" 2> /dev/null; do
  kill -0 "$SERVER" 2> /dev/null || { cat "$WORK/serve.log"; echo "the server died during the run"; exit 1; }
  now=$(date +%s.%N)
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER/status")
  ticks=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$SERVER/stat")
  printf '%s\t%s\t%s\n' "$(awk -v a="$now" -v b="$START" 'BEGIN { printf "%.2f", a - b }')" "$rss" "$ticks" >> "$SAMPLES"
  sleep 0.2
done
wait "$LOADGEN" || { cat "$WORK/loadgen.txt"; echo "the load generator failed"; exit 1; }
LOADGEN=""
kill "$SERVER"
wait "$SERVER" 2> /dev/null || true
SERVER=""

python3 - "$SAMPLES" "$WORK/loadgen.json" "$SUMMARY" "$BASE_KB" "$WINDOW_FROM" "$WINDOW_TO" \
  "$(getconf CLK_TCK)" "$CONNECTIONS" <<'PY'
import json, statistics, sys
samples_path, loadgen_path, summary_path = sys.argv[1:4]
base_kb, window_from, window_to, clk_tck, target = (float(a) for a in sys.argv[4:9])
rows = []
with open(samples_path) as f:
    next(f)
    for line in f:
        t, rss, ticks = line.split()
        rows.append((float(t), int(rss), int(ticks)))
report = json.load(open(loadgen_path))
established = report["connections"]["upgraded"]
window = [r for r in rows if window_from <= r[0] <= window_to]
if len(window) < 2 or established == 0:
    sys.exit(f"no usable samples in [{window_from}, {window_to}] s or no connection upgraded")
per_conn = lambda kb: (kb - base_kb) * 1024 / established
steady_kb = statistics.median(r[1] for r in window)
hold_kb = max(r[1] for r in rows if r[0] <= window_to)
overall_kb = max(r[1] for r in rows)
cpu_s = (window[-1][2] - window[0][2]) / clk_tck
wall_s = window[-1][0] - window[0][0]
summary = {
    "connections": {"target": int(target), "upgraded": established,
                    "open_at_end": report["connections"]["open_at_end"]},
    "server_rss_before_kb": int(base_kb),
    "bytes_per_connection": {"steady": round(per_conn(steady_kb)), "hold_peak": round(per_conn(hold_kb)),
                             "overall_peak": round(per_conn(overall_kb))},
    "heartbeat_cpu_percent_of_one_core": round(100 * cpu_s / wall_s, 2),
    "window_secs": [window_from, window_to],
    "pings_answered": report["messages"]["pings_answered"],
    "loadgen_errors": report.get("errors", {}),
}
json.dump(summary, open(summary_path, "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
echo "samples: $SAMPLES; summary: $SUMMARY"
