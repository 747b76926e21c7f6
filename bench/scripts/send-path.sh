#!/usr/bin/env bash
# The full send path benchmark of issue 4: customer → owner shard → durable log → agent, at 1 and 2 server
# shards, with `fsync` and `buffered` durability. Open loop (latency from the intended send time) at RATE
# customer messages/s from `switchboard-loadgen --scenario chat` (agents are admin observers that follow every
# conversation, so each message is acked to its customer and delivered to its agent, and every agent
# replies, so the messages stored per second are about twice RATE). Routing is off so the figure is the
# messaging path alone.
#
#   bash bench/scripts/send-path.sh          # fixed rate: RATE=4000 DURATION=10 CONNECTIONS=500
#                                            #   → bench/results/send-path-<shards>shard-<durability>.json
#   bash bench/scripts/send-path.sh peak     # rate ramp: PEAK_RATES="4000 8000 …" PEAK_DURATION=5
#                                            #   → bench/results/send-path-peak-<shards>shard-<durability>-<rate>.json
#   SHARDS_LIST="1" DURABILITIES="fsync" …  # a subset of the cells (default: 1 2 × fsync buffered)
#   NO_BUILD=1 …                             # use the release binaries already built
#   PIN=1 …                                  # server on CPU 0, one load thread on CPU 1 (default: unpinned,
#                                            #   the load generator's default threads)
#
# Peak: the highest customer rate of the ramp that the server sustains — during the run it acks and
# delivers what was offered (received/s ≥ 95% of sent/s), loses, duplicates and leaves unacked nothing,
# has no error, and keeps the deliver p99 under PEAK_P99_MS_MAX (default 100 ms; beyond that the server is
# queueing, not keeping up). On this VM one run at a rate can pass or fail by chance (a neighbour, the
# fsync worker), so each rate is run up to PEAK_TRIES times (default 3) and counts as sustained when most
# of its runs were (it stops as soon as the majority is decided); the PEAK line reports the median deliver
# p99 of the peak rate's runs. The ramp stops at the first rate that fails. Every run is bounded by its
# duration; the server is killed by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
MODE=${1:-fixed}
RATE=${RATE:-4000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-500}
PEAK_RATES=${PEAK_RATES:-"4000 8000 12000 16000 20000 24000 32000"}
PEAK_DURATION=${PEAK_DURATION:-5}
PEAK_P99_MS_MAX=${PEAK_P99_MS_MAX:-100}
PEAK_TRIES=${PEAK_TRIES:-3}
PORT=${PORT:-7899}
TARGET=${CARGO_TARGET_DIR:-target}
SHARDS_LIST=${SHARDS_LIST:-"1 2"}
DURABILITIES=${DURABILITIES:-"fsync buffered"}
SERVER_PIN=""; LOADGEN_PIN=""; LOADGEN_THREADS=""
if [ -n "${PIN:-}" ]; then SERVER_PIN="taskset -c 0"; LOADGEN_PIN="taskset -c 1"; LOADGEN_THREADS="--threads 1"; fi
[ -n "${NO_BUILD:-}" ] || cargo build -q --release -p switchboard-shards -p switchboard-loadgen
WORK=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p bench/results

# run SHARDS DURABILITY RATE DURATION OUT: one server, one loadgen run; prints the summary line.
run() {
  local shards=$1 durability=$2 rate=$3 duration=$4 out=$5
  rm -rf "$WORK/data"
  cat > "$WORK/serve.toml" <<TOML
listen = "127.0.0.1:$PORT"
shards = $shards
mode = "chat"
admin_listen = "off"
data_dir = "$WORK/data"
[chat]
routing_enabled = false
# Load tests drive a few connections far harder than a person: lift the per-client quotas.
connection_requests_per_second_max = 10000000
user_requests_per_second_max = 10000000
tenant_requests_per_second_max = 10000000
customer_open_conversations_max = 1000000
tenant_open_conversations_max = 1000000
[overload]
enabled = false
[log]
durability = "$durability"
[auth]
active_key_id = "load"
keys = [{ id = "load", secret_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" }]
TOML
  $SERVER_PIN "$TARGET/release/switchboard" serve --config "$WORK/serve.toml" 2> "$WORK/serve.log" &
  SERVER=$!
  wait_for_server "$SERVER" "$PORT" "$WORK/serve.log"
  $LOADGEN_PIN "$TARGET/release/switchboard-loadgen" $LOADGEN_THREADS --scenario-file loadgen/scenarios/chat.toml \
    --url "ws://127.0.0.1:$PORT/ws" --rate "$rate" --duration "$duration" \
    --connections "$CONNECTIONS" --out "$out" > "$WORK/loadgen.txt" 2>&1 || true
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  SERVER=""
  python3 - "$out" "$shards" "$durability" "$rate" "$PEAK_P99_MS_MAX" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
shards, durability, rate, p99_max_ms = sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
lat = {l["kind"]: l for l in report.get("latency", [])}
d = lat.get("deliver", {})
m = report.get("messages", {})
sent = report["throughput"]["sent_per_sec"]
received = report["throughput"]["received_per_sec"]
clean = m.get("lost") == 0 and m.get("duplicated") == 0 and m.get("unacked") == 0 \
    and report.get("errors", {}).get("total", 0) == 0
# Open loop: the tool sends on schedule whatever the server does, so "kept up" means the server acked and
# delivered what was offered during the run (received ≈ sent, not caught up in the drain) with a bounded p99.
kept_up = received >= 0.95 * sent and d.get("p99", float("inf")) <= p99_max_ms * 1000
verdict = "sustained" if clean and kept_up else "NOT sustained"
print(f"shards={shards} durability={durability:8} rate={rate:.0f} sent/s={sent:.0f} "
      f"acked={m.get('acked')} lost={m.get('lost')} dup={m.get('duplicated')} unacked={m.get('unacked')} "
      f"deliver p50/p99/p99.9 = {d.get('p50', 0):.0f}/{d.get('p99', 0):.0f}/{d.get('p99_9', 0):.0f} us {verdict}")
sys.exit(0 if clean and kept_up else 3)
PY
}

for shards in $SHARDS_LIST; do
  for durability in $DURABILITIES; do
    if [ "$MODE" = peak ]; then
      best=0; best_p99="-"; need=$((PEAK_TRIES / 2 + 1))
      for rate in $PEAK_RATES; do
        passed=0; failed=0; p99s=()
        while [ "$passed" -lt "$need" ] && [ "$failed" -lt "$need" ]; do
          out="bench/results/send-path-peak-${shards}shard-${durability}-${rate}.json"
          line=$(run "$shards" "$durability" "$rate" "$PEAK_DURATION" "$out") && ok=1 || ok=0
          echo "$line"
          p99s+=("$(echo "$line" | sed -n 's|.*deliver p50/p99/p99.9 = [0-9]*/\([0-9]*\)/.*|\1|p')")
          if [ "$ok" = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
        done
        echo "  rate=$rate: $passed of $((passed + failed)) run(s) sustained"
        [ "$passed" -ge "$need" ] || break
        best=$rate
        best_p99=$(printf '%s\n' "${p99s[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
      done
      echo "PEAK shards=$shards durability=$durability: $best customer msgs/s sustained (about $((best * 2)) stored msgs/s with the agents' replies; median deliver p99 there $best_p99 us)"
    else
      run "$shards" "$durability" "$RATE" "$DURATION" \
        "bench/results/send-path-${shards}shard-${durability}.json" || echo "  (not sustained: see the JSON)"
    fi
  done
done
