#!/usr/bin/env bash
# The full send path benchmark of issue 4: customer → owner shard → durable log → agent, at 1 and 2 server
# shards, with `fsync` and `buffered` durability. Open loop (latency from the intended send time) at RATE
# customer messages/s from `switchboard-loadgen --scenario chat` (agents are admin observers that follow every
# conversation, so each message is acked to its customer and delivered to its agent). Routing is off so the
# figure is the messaging path alone. Results: bench/results/send-path-<shards>shard-<durability>.json and a
# summary table on stdout.
#
#   bash bench/scripts/send-path.sh            # RATE=4000 DURATION=10 CONNECTIONS=500
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=${RATE:-4000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-500}
PORT=${PORT:-7899}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p switchboard-shards -p switchboard-loadgen
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p bench/results
for shards in 1 2; do
  for durability in fsync buffered; do
    rm -rf "$WORK/data"
    cat > "$WORK/serve.toml" <<TOML
listen = "127.0.0.1:$PORT"
shards = $shards
mode = "chat"
admin_listen = "off"
data_dir = "$WORK/data"
[chat]
routing_enabled = false
[log]
durability = "$durability"
[auth]
active_key_id = "load"
keys = [{ id = "load", secret_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" }]
TOML
    "$TARGET/release/switchboard" serve --config "$WORK/serve.toml" 2> "$WORK/serve.log" &
    SERVER=$!
    for _ in $(seq 1 100); do
      (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
      sleep 0.1
    done
    OUT="bench/results/send-path-${shards}shard-${durability}.json"
    "$TARGET/release/switchboard-loadgen" --scenario-file loadgen/scenarios/chat.toml \
      --url "ws://127.0.0.1:$PORT/ws" --rate "$RATE" --duration "$DURATION" \
      --connections "$CONNECTIONS" --out "$OUT" > "$WORK/loadgen.txt" 2>&1 || echo "loadgen reported errors (see $OUT)"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
    python3 - "$OUT" "$shards" "$durability" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
lat = {l["kind"]: l for l in report.get("latency", [])}
d = lat.get("deliver", {})
m = report.get("messages", {})
print(f"shards={sys.argv[2]} durability={sys.argv[3]:8} sent/s={report['throughput']['sent_per_sec']:.0f} "
      f"acked={m.get('acked')} lost={m.get('lost')} dup={m.get('duplicated')} unacked={m.get('unacked')} "
      f"deliver p50/p99/p99.9 = {d.get('p50', 0):.0f}/{d.get('p99', 0):.0f}/{d.get('p99_9', 0):.0f} us")
PY
  done
done
