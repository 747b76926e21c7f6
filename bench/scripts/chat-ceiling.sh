#!/usr/bin/env bash
# The chat path against its own ceiling (issue 19): customer → owner → fsync'd log → agent at 1 and 2
# shards, the highest rate it sustains, its open-loop latency at half that rate, and the socket work
# that path needs, done by the engine alone.
#
#   bash bench/scripts/chat-ceiling.sh          # → bench/results/chat-ceiling.json and a table on stdout
#   NO_BUILD=1 PEAK_RATES="24000 32000 40000 48000 56000 64000 80000" bash bench/scripts/chat-ceiling.sh
#   PIN=1 SHARDS_LIST=1 NO_BUILD=1 bash bench/scripts/chat-ceiling.sh   # 1 shard on CPU 0, one load thread on CPU 1
#
# 1. Peak: `send-path.sh peak` with fsync (PEAK_RATES, PEAK_DURATION, PEAK_TRIES: a rate counts when most of
#    its runs sustain it, and its median deliver p99 is reported; routing off, 500 connections: 100
#    agents each answering 4 customers; every customer message is acked, delivered, and answered by its
#    agent, whose reply is acked and delivered in turn).
# 2. Latency: `send-path.sh` at half the peak for DURATION s (default 10): ack and deliver p50/p99/p99.9.
# 3. Ceiling: per customer message the path reads 2 frames (the send, the agent's reply) and writes 4
#    (two acks, two deliveries). `core/examples/tcp_echo.rs relay` does exactly that socket work and
#    nothing else: the engine alone (io_uring, the same shard count), connections paired, every whole
#    frame written back to its sender (the ack) and to the partner (the delivery). Driven open loop, like
#    the chat runs, by `switchboard-loadgen --raw-relay` with 500 connections and frames of the chat
#    frames' size, at M frames/s it reads M and writes 2M, i.e. the socket work of M / 2 customer
#    messages. Its ramp (RELAY_RATES, frames/s) stops at the first rate not sustained by the chat runs'
#    rule (received ≥ 95% of sent, nothing lost, no error, echo p99 ≤ PEAK_P99_MS_MAX); the highest
#    sustained M / 2 is the ceiling: what the path could do if owning, logging (fsync included) and
#    routing a message cost nothing. (Until this session the ceiling was the closed-loop raw echo ÷ 3,
#    which came out below the chat path's own peak: closed loop batches nothing. Not comparable.)
#
# Bounded: every run has its duration; servers are killed by PID. Never part of CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
TARGET=${CARGO_TARGET_DIR:-target}
DURATION=${DURATION:-10}
CEILING_DURATION=${CEILING_DURATION:-5}
RELAY_RATES=${RELAY_RATES:-"64000 128000 192000 256000 320000 384000 448000 512000 640000"}
PEAK_P99_MS_MAX=${PEAK_P99_MS_MAX:-100}
# PIN=1: the servers on CPU 0 and one load thread on CPU 1, here and in send-path.sh (see there).
SERVER_PIN=""; LOADGEN_PIN=""; LOADGEN_THREADS=""
if [ -n "${PIN:-}" ]; then SERVER_PIN="taskset -c 0"; LOADGEN_PIN="taskset -c 1"; LOADGEN_THREADS="--threads 1"; fi
export PIN
FRAME_BYTES=${FRAME_BYTES:-160}   # a binary deliver of a 64-byte text, about (header, ids, body)
PORT=${PORT:-7912}
if [ -z "${NO_BUILD:-}" ]; then
  cargo build -q --release -p switchboard-shards -p switchboard-loadgen -p switchboard-core --example tcp_echo
fi
export NO_BUILD=1
WORK=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p bench/results
# Every run's summary line (appending; `tee /dev/stderr` would truncate a redirected log).
RUNS=bench/results/chat-ceiling-runs.txt
: > "$RUNS"
rows=()
for shards in ${SHARDS_LIST:-1 2}; do
  peak_line=$(SHARDS_LIST=$shards DURABILITIES=fsync bash bench/scripts/send-path.sh peak | tee -a "$RUNS" | grep '^PEAK')
  peak=$(echo "$peak_line" | sed 's/.*fsync: \([0-9]*\) .*/\1/')
  half=$((peak / 2))
  half_line="(peak 0: no latency run)"
  if [ "$half" -gt 0 ]; then
    half_line=$(SHARDS_LIST=$shards DURABILITIES=fsync RATE=$half DURATION=$DURATION \
      bash bench/scripts/send-path.sh | tee -a "$RUNS" | grep '^shards=' || true)
    cp "bench/results/send-path-${shards}shard-fsync.json" "bench/results/chat-ceiling-half-${shards}shard.json"
  fi
  relay_best=0
  for relay_rate in $RELAY_RATES; do
    $SERVER_PIN "$TARGET/release/examples/tcp_echo" relay "127.0.0.1:$PORT" auto "$shards" > "$WORK/relay.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
    $LOADGEN_PIN "$TARGET/release/switchboard-loadgen" $LOADGEN_THREADS --url "ws://127.0.0.1:$PORT/" --scenario echo --raw-relay \
      --rate "$relay_rate" --connections 500 --duration "$CEILING_DURATION" --size "$FRAME_BYTES" \
      --quiet --out "$WORK/relay-$relay_rate.json" > "$WORK/relay.txt" 2>&1 || true
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    verdict=$(python3 - "$WORK/relay-$relay_rate.json" "$PEAK_P99_MS_MAX" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t, m = r["throughput"], r.get("messages", {})
echo = {l["kind"]: l for l in r.get("latency", [])}.get("echo", {})
ok = t["received_per_sec"] >= 0.95 * t["sent_per_sec"] and m.get("lost", 1) == 0 \
    and r.get("errors", {}).get("total", 1) == 0 and echo.get("p99", float("inf")) <= float(sys.argv[2]) * 1000 \
    and m.get("relayed", 0) > 0
print(f"{'sustained' if ok else 'NOT sustained'} sent/s={t['sent_per_sec']:.0f} received/s={t['received_per_sec']:.0f} "
      f"relayed={m.get('relayed')} lost={m.get('lost')} errors={r.get('errors', {}).get('total')} "
      f"echo p99={echo.get('p99', 0):.0f} us")
PY
)
    echo "RELAY shards=$shards rate=$relay_rate frames/s: $verdict" | tee -a "$RUNS"
    case "$verdict" in sustained*) relay_best=$relay_rate ;; *) break ;; esac
  done
  echo_rate=$relay_best
  # The top of the ramp sustained: the ceiling is at least that (the load generator may be what stopped).
  at_least=""; [ "$relay_best" = "${RELAY_RATES##* }" ] && at_least="≥ "
  rows+=("$shards|$peak|$half|$echo_rate|$at_least|$half_line")
done
python3 - "${rows[@]}" <<'PY'
import json, re, sys
out = []
print("| shards | peak customer msg/s (fsync) | ceiling (engine relay frames/s ÷ 2) | peak ÷ ceiling | at 50% of peak: deliver p50 / p99 / p99.9 |")
print("|---:|---:|---:|---:|---|")
for row in sys.argv[1:]:
    shards, peak, half, echo, at_least, line = row.split("|", 5)
    peak, half, echo = int(peak), int(half), int(echo)
    ceiling = echo / 2
    m = re.search(r"deliver p50/p99/p99.9 = (\d+)/(\d+)/(\d+) us", line)
    p = [int(x) for x in m.groups()] if m else None
    lat = f"{p[0]/1000:.2f} / {p[1]/1000:.2f} / {p[2]/1000:.2f} ms at {half}/s" if p else line
    print(f"| {shards} | {peak:,} | {at_least}{ceiling:,.0f} ({at_least}{echo:,} relay frames/s) | {'≤ ' if at_least else ''}{(peak / ceiling if ceiling else 0):.2f} | {lat} |")
    out.append({"shards": int(shards), "durability": "fsync", "peak_customer_msgs_per_s": peak,
                "engine_relay_frames_per_s": echo, "ceiling_customer_msgs_per_s": round(ceiling),
                "ceiling_is_lower_bound": bool(at_least),
                "peak_over_ceiling": round(peak / ceiling, 3) if ceiling else None, "half_rate": half,
                "deliver_us_p50_p99_p999": p, "half_rate_line": line})
json.dump(out, open("bench/results/chat-ceiling.json", "w"), indent=2)
PY
echo "written: bench/results/chat-ceiling.json"
