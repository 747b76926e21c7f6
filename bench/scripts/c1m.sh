#!/usr/bin/env bash
# C1M: a million idle WebSocket connections held by one server process on one shard, with both ends'
# memory accounted (issue 19).
#
#   bash bench/scripts/c1m.sh                            # CONNECTIONS=1000000, ~11 minutes
#   CONNECTIONS=200000 bash bench/scripts/c1m.sh         # a smaller run, same accounting
#   NO_BUILD=1 bash bench/scripts/c1m.sh                 # use the release binaries already built
#
# What it does, bounded in time (ramp + hold + close, about DURATION + 60 s):
#   1. Applies the `c1m` sysctl profile (tuning/profiles/c1m.conf): every key present on this kernel is set
#      with `sysctl -w`; the previous values are remembered and restored when the script exits, however
#      it exits. Needs root.
#   2. Starts `switchboard serve --mode echo --shards 1` pinned to CPU 0, with `connections_max` and
#      `connections_per_shard_max` of CONNECTIONS + 1,000 and a heartbeat every HEARTBEAT_S seconds
#      (default 450). Heartbeats are the CPU cost of idle connections: about 20 µs of server CPU per ping
#      here with every connection's state cold, mostly the kernel's loopback TCP work, so a million
#      connections pinged every 30 s (the default maximum interval) cost ~48% of a core, every 300 s 6.7%
#      and every 450 s 4.6%. The pong deadline is 60 s and the handshake deadline 120 s, as in the README's 200K
#      run: on 2 vCPUs the server and the load generator starve each other during the ramp, and the
#      default 2–10 s pong deadline dropped ~0.2% of the connections there.
#   3. Starts `switchboard-loadgen --scenario idle` pinned to CPU 1: CONNECTIONS connections at CONNECT_RATE
#      per second (default 8,000/s: a 125 s ramp for a million; at 10,000/s the single load generator thread
#      fell behind its connects now and then, sent upgrade requests late and got `408`) from SOURCE_ADDRS (default 127.0.0.2–33:
#      32 addresses × 55,000 explicit ports each, well over a million 4-tuples), answering every ping,
#      holding DURATION seconds, then closing them all with a Close handshake.
#   4. Samples every second into bench/results/c1m-<CONNECTIONS>-samples.tsv: server RSS and CPU ticks,
#      load generator RSS, /proc/net/sockstat (TCP sockets in use, TCP memory pages) and the machine's
#      used memory (MemTotal − MemAvailable).
#
# The summary, bench/results/c1m-<CONNECTIONS>.json, reports per connection held (open at the end of the
# load phase, so open through the window):
#   - server bytes above the idle server's RSS before the run: steady (median over the window
#     [WINDOW_FROM, WINDOW_TO] s, all connections open and idle), hold (highest up to WINDOW_TO), overall
#     (highest of the run, the closing handshakes included). The connection tables and the timer wheel are
#     reserved at start but written as connections arrive, so they count in these figures;
#   - load generator RSS (steady, peak), kernel TCP memory (sockstat `mem` pages × page size, steady) and
#     sockets in use, and the machine's used memory above its level before the run (steady);
# and the heartbeat CPU (server CPU time over the window, % of one core), pings answered, errors, and the
# load generator's connect and upgrade latency percentiles. The window starts 30 s after the ramp and is
# one heartbeat interval long (at least 70 s), so every connection is pinged once in it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
CONNECTIONS=${CONNECTIONS:-1000000}
CONNECT_RATE=${CONNECT_RATE:-8000}
HEARTBEAT_S=${HEARTBEAT_S:-450}
RAMP_SECS=$(( (CONNECTIONS + CONNECT_RATE - 1) / CONNECT_RATE ))
WINDOW_FROM=${WINDOW_FROM:-$(( RAMP_SECS + 30 ))}
# One whole heartbeat interval: every connection is pinged exactly once in the window.
WINDOW_TO=${WINDOW_TO:-$(( WINDOW_FROM + (HEARTBEAT_S > 70 ? HEARTBEAT_S : 70) ))}
DURATION=${DURATION:-$(( WINDOW_TO + 10 ))}
SOURCE_ADDRS=${SOURCE_ADDRS:-127.0.0.2-127.0.0.33}
PORT=${PORT:-7898}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
PROFILE=tuning/profiles/c1m.conf
TARGET=${CARGO_TARGET_DIR:-target}
if [ "$WINDOW_TO" -ge "$DURATION" ] || [ "$WINDOW_FROM" -ge "$WINDOW_TO" ]; then
  echo "need WINDOW_FROM < WINDOW_TO < DURATION (got $WINDOW_FROM, $WINDOW_TO, $DURATION)" >&2
  exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "the c1m profile is applied with sysctl -w: run as root" >&2; exit 2; }
[ -n "${NO_BUILD:-}" ] || cargo build -q --release -p switchboard-shards -p switchboard-loadgen

WORK=$(mktemp -d)
SERVER=""
LOADGEN=""
RESTORE="$WORK/sysctl-restore"
: > "$RESTORE"
cleanup() {
  # No errexit here: a process that already ended must not stop the rest of the cleanup.
  set +e
  if [ -n "$LOADGEN" ]; then kill "$LOADGEN" 2> /dev/null; wait "$LOADGEN" 2> /dev/null; fi
  if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null; wait "$SERVER" 2> /dev/null; fi
  # Restore every sysctl this script changed, in reverse order.
  tac "$RESTORE" | while IFS='=' read -r key value; do
    sysctl -q -w "$key=$value" > /dev/null 2>&1 || echo "could not restore $key=$value" >&2
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# 1. The c1m profile: `key = value` lines; keys this kernel lacks (e.g. nf_conntrack not loaded) are skipped.
grep -Ev '^[[:space:]]*(#|$)' "$PROFILE" | while IFS='=' read -r key value; do
  key=$(echo "$key" | xargs)
  value=$(echo "$value" | xargs)
  [ -e "/proc/sys/${key//.//}" ] || { echo "sysctl $key: absent on this kernel, skipped"; continue; }
  old=$(sysctl -n "$key" | tr '\t' ' ' | xargs)
  echo "$key=$old" >> "$RESTORE"
  echo "sysctl $key: $old -> $value"
  sysctl -q -w "$key=$value" > /dev/null || echo "sysctl $key: could not set $value (kept $old)" >&2
done
echo "c1m profile applied ($(wc -l < "$RESTORE") keys; restored at exit)"

mkdir -p bench/results
SAMPLES="bench/results/c1m-$CONNECTIONS-samples.tsv"
SUMMARY="bench/results/c1m-$CONNECTIONS.json"
LIMIT=$(( CONNECTIONS + 1000 ))
cat > "$WORK/serve.toml" <<TOML
listen = "127.0.0.1:$PORT"
shards = 1
mode = "echo"
admin_listen = "off"
data_dir = "$WORK/data"
[limits]
connections_max = $LIMIT
connections_per_shard_max = $LIMIT
heartbeat_interval_ms_min = $((HEARTBEAT_S * 1000))
heartbeat_interval_ms_max = $((HEARTBEAT_S * 1000))
pong_timeout_ms_min = 60000
pong_timeout_ms_max = 60000
handshake_timeout_ms = 120000
TOML
used_kb() { awk '/^MemTotal/ { t = $2 } /^MemAvailable/ { a = $2 } END { print t - a }' /proc/meminfo; }
MACHINE_BEFORE_KB=$(used_kb)
taskset -c "$SERVER_CPU" "$TARGET/release/switchboard" serve --config "$WORK/serve.toml" \
  --log-level warn 2> "$WORK/serve.log" &
SERVER=$!
wait_for_server "$SERVER" "$PORT" "$WORK/serve.log"
sleep 1
BASE_KB=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER/status")

COMMAND="switchboard-loadgen --url ws://127.0.0.1:$PORT/ --scenario idle --connections $CONNECTIONS \
--duration $DURATION --threads 1 --connect-rate $CONNECT_RATE --source-addrs $SOURCE_ADDRS"
# shellcheck disable=SC2086 # the command is split into its words on purpose
taskset -c "$LOADGEN_CPU" "$TARGET/release/"$COMMAND --quiet --out "$WORK/loadgen.json" \
  > "$WORK/loadgen.txt" 2>&1 &
LOADGEN=$!
START=$(date +%s.%N)
printf 'seconds\tserver_rss_kb\tserver_cpu_ticks\tloadgen_rss_kb\ttcp_inuse\ttcp_mem_pages\tmachine_used_kb\n' \
  > "$SAMPLES"
while kill -0 "$LOADGEN" 2> /dev/null; do
  kill -0 "$SERVER" 2> /dev/null || { cat "$WORK/serve.log"; echo "the server died during the run"; exit 1; }
  now=$(date +%s.%N)
  rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER/status")
  ticks=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$SERVER/stat")
  lg_rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$LOADGEN/status" 2> /dev/null || echo 0)
  read -r inuse pages < <(awk '/^TCP:/ { for (i = 2; i < NF; i += 2) v[$i] = $(i + 1); print v["inuse"], v["mem"] }' /proc/net/sockstat)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(awk -v a="$now" -v b="$START" 'BEGIN { printf "%.2f", a - b }')" \
    "$rss" "$ticks" "${lg_rss:-0}" "$inuse" "$pages" "$(used_kb)" >> "$SAMPLES"
  sleep 1
done
# The load generator exits 1 when any connection had an error; the run is still summarized (with its
# errors), and the script then exits 1 too.
LOADGEN_EXIT=0
wait "$LOADGEN" || LOADGEN_EXIT=$?
LOADGEN=""
cat "$WORK/loadgen.txt"
[ -s "$WORK/loadgen.json" ] || { echo "the load generator wrote no report (exit $LOADGEN_EXIT)"; exit 1; }
kill "$SERVER"
wait "$SERVER" 2> /dev/null || true
SERVER=""

python3 - "$SAMPLES" "$WORK/loadgen.json" "$SUMMARY" "$BASE_KB" "$MACHINE_BEFORE_KB" "$WINDOW_FROM" \
  "$WINDOW_TO" "$(getconf CLK_TCK)" "$(getconf PAGESIZE)" "$CONNECTIONS" "$COMMAND" "$LOADGEN_EXIT" <<'PY'
import json, statistics, sys
samples_path, loadgen_path, summary_path = sys.argv[1:4]
base_kb, machine_before_kb, window_from, window_to, clk_tck, page, target = (float(a) for a in sys.argv[4:11])
command, loadgen_exit = sys.argv[11], int(sys.argv[12])
rows = []
with open(samples_path) as f:
    next(f)
    for line in f:
        t, rss, ticks, lg, inuse, pages, used = line.split()
        rows.append((float(t), int(rss), int(ticks), int(lg), int(inuse), int(pages), int(used)))
report = json.load(open(loadgen_path))
established = report["connections"]["open_at_end"]
window = [r for r in rows if window_from <= r[0] <= window_to]
if len(window) < 2 or established == 0:
    sys.exit(f"no usable samples in [{window_from}, {window_to}] s or no connection open")
per_conn = lambda kb: round((kb - base_kb) * 1024 / established)
median = lambda i: statistics.median(r[i] for r in window)
cpu_s = (window[-1][2] - window[0][2]) / clk_tck
wall_s = window[-1][0] - window[0][0]
percentiles = lambda p: {k: p[k] for k in ("p50", "p99", "p99_9", "max") if k in p}
summary = {
    "command": command,
    "connections": {"target": int(target), "upgraded": report["connections"]["upgraded"],
                    "open_at_end": established},
    "server": {
        "rss_before_kb": int(base_kb),
        "rss_steady_kb": int(median(1)),
        "bytes_per_connection": {"steady": per_conn(median(1)),
                                 "hold_peak": per_conn(max(r[1] for r in rows if r[0] <= window_to)),
                                 "overall_peak": per_conn(max(r[1] for r in rows))},
        "heartbeat_cpu_percent_of_one_core": round(100 * cpu_s / wall_s, 2),
    },
    "loadgen": {"rss_steady_kb": int(median(3)), "rss_peak_kb": max(r[3] for r in rows),
                "bytes_per_connection_steady": round(median(3) * 1024 / established)},
    "kernel": {"tcp_sockets_in_use_steady": int(median(4)),
               "tcp_mem_bytes_steady": int(median(5) * page),
               "tcp_mem_bytes_peak": int(max(r[5] for r in rows) * page)},
    "machine": {"used_before_kb": int(machine_before_kb), "used_steady_kb": int(median(6)),
                "used_above_before_kb_steady": int(median(6) - machine_before_kb),
                "used_peak_kb": max(r[6] for r in rows),
                "bytes_per_connection_steady": round((median(6) - machine_before_kb) * 1024 / established)},
    "window_secs": [window_from, window_to],
    "pings_answered": report["messages"]["pings_answered"],
    "loadgen_exit_code": loadgen_exit,
    "loadgen_errors": report.get("errors", {}),
    "connect_latency_us": percentiles(report.get("connect_latency", {})),
    "upgrade_latency_us": percentiles(report.get("upgrade_latency", {})),
}
json.dump(summary, open(summary_path, "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
echo "samples: $SAMPLES; summary: $SUMMARY"
exit "$LOADGEN_EXIT"
