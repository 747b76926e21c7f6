#!/usr/bin/env bash
# Routing/AI benchmarks of issue 5, written to bench/results/:
#   routing-classify.json   classification (and sentiment) latency of one held-out message, p50/p99
#   routing-decisions.json  RoutingShard (sans-IO) decisions/s on a recorded stream, tight loop
#   routing-train.json      start-up parse + training time of the shipped knowledge base (release)
#   routing-e2e-<durability>-<rate>.json
#                           customer → bot-answer latency under load: a release `switchboard serve --mode chat`
#                           (routing on, 1 shard, buffered and fsync) pinned to CPU 0, and
#                           `switchboard-loadgen --scenario-file loadgen/scenarios/chat-routed.toml` pinned to
#                           CPU 1 at a fixed open-loop rate of customer messages/s (latency from the intended
#                           send time), for DURATION seconds.
#   routing-summary.txt     one table of all of the above.
#
#   bash bench/scripts/routing.sh                       # RATES="500 2000 4000" DURATION=10
#   RATES=500 DURATION=2 bash bench/scripts/routing.sh  # smoke
# Take real numbers on a quiet machine (`uptime` load well below 1); the run is bounded (every load run
# has a duration and a drain, and the server is killed by its PID).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
RATES=${RATES:-"500 2000 4000"}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-100}
DURABILITIES=${DURABILITIES:-"buffered fsync"}
PORT=${PORT:-7897}
TARGET=${CARGO_TARGET_DIR:-target}
RESULTS=bench/results
# `(pin CPU cmd...)` runs cmd on CPU. It `exec`s (so call it in a subshell), and `(pin ...) &` gives `$!` = the command's own pid (a shell
# function run in the background is a subshell: killing that pid would leave the server running, and the
# next run's server would then share its port through SO_REUSEPORT; the server now refuses a busy port).
pin() { if command -v taskset > /dev/null; then exec taskset -c "$1" "${@:2}"; else exec "${@:2}"; fi; }

cargo build -q --release -p switchboard-shards -p switchboard-loadgen
mkdir -p "$RESULTS"
(export ROUTING_RESULTS_DIR="$PWD/$RESULTS"; pin 1 cargo bench -q -p switchboard-bench --bench routing)

WORK=$(mktemp -d)
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
rm -f "$RESULTS"/routing-e2e-*.json
for durability in $DURABILITIES; do
  for rate in $RATES; do
    rm -rf "$WORK/data"
    cat > "$WORK/serve.toml" <<TOML
listen = "127.0.0.1:$PORT"
shards = 1
mode = "chat"
admin_listen = "off"
data_dir = "$WORK/data"
[chat]
routing_enabled = true
# Load tests drive a few connections far harder than a person: lift the per-client quotas.
connection_requests_per_second_max = 10000000
user_requests_per_second_max = 10000000
tenant_requests_per_second_max = 10000000
customer_open_conversations_max = 1000000
tenant_open_conversations_max = 1000000
[log]
durability = "$durability"
[auth]
active_key_id = "load"
keys = [{ id = "load", secret_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" }]
TOML
    (pin 0 "$TARGET/release/switchboard" serve --config "$WORK/serve.toml" 2> "$WORK/serve.log") &
    SERVER=$!
    wait_for_server "$SERVER" "$PORT" "$WORK/serve.log"
    OUT="$RESULTS/routing-e2e-${durability}-${rate}.json"
    (pin 1 "$TARGET/release/switchboard-loadgen" --scenario-file loadgen/scenarios/chat-routed.toml \
      --url "ws://127.0.0.1:$PORT/ws" --rate "$rate" --duration "$DURATION" --threads 1 \
      --connections "$CONNECTIONS" --out "$OUT" > "$WORK/loadgen-${durability}-${rate}.txt" 2>&1) \
      || echo "loadgen reported errors (see $OUT and its summary below)"
    kill "$SERVER"; wait "$SERVER" 2> /dev/null || true
    SERVER=""
    cat "$WORK/loadgen-${durability}-${rate}.txt"
  done
done

python3 - "$RESULTS" "$DURATION" $RATES <<'PY' | tee "$RESULTS/routing-summary.txt"
import glob, json, os, subprocess, sys
results, duration = sys.argv[1], sys.argv[2]
def load(name):
    return json.load(open(os.path.join(results, name)))
rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
load_avg = open("/proc/loadavg").read().split()[:3]
print(f"routing benchmarks  revision {rev or 'unknown'}  load average at end {' '.join(load_avg)}")
if float(duration) < 10 or float(load_avg[0]) >= 1.5:
    print("NOTE: short run or busy machine (load >= 1.5): a smoke that proves the script works, not "
          "benchmark numbers; take those on a quiet machine with the defaults")
c = load("routing-classify.json")
print(f"classify one held-out message ({c['messages']} messages x {c['passes']} passes, timer overhead "
      f"{c['timer_overhead_ns']} ns included):")
for k in ("classify", "sentiment"):
    p = c[k]
    print(f"  {k:<10} p50 {p['p50_ns']/1e3:7.2f} us  p99 {p['p99_ns']/1e3:7.2f} us  "
          f"p99.9 {p['p99_9_ns']/1e3:7.2f} us  max {p['max_ns']/1e3:8.2f} us")
d = load("routing-decisions.json")
print(f"RoutingShard decisions: {d['inputs_per_sec_best']:,.0f} inputs/s best "
      f"({d['inputs_per_sec_median']:,.0f} median), {d['outputs_per_sec_best']:,.0f} outputs/s, "
      f"{d['customer_messages_per_sec_best']:,.0f} customer messages/s "
      f"({d['inputs']} inputs, {d['agents']} agents, {d['conversations']} conversations)")
t = load("routing-train.json")
print(f"start-up: parse KB {t['parse']['median_ms']:.1f} ms, train {t['train']['median_ms']:.1f} ms median "
      f"(min {t['train']['min_ms']:.1f}, max {t['train']['max_ms']:.1f}; {t['intents']} intents, "
      f"{t['training_examples']} examples)")
print(f"end to end, 1 server shard, open loop, {duration} s per run (latency from the intended send time, us):")
print(f"  {'durability':<10}{'rate/s':>8}{'sent/s':>9}{'bot p50':>9}{'bot p99':>9}{'bot max':>10}"
      f"{'handoff p50':>12}{'p99':>9}{'agent p50':>10}{'p99':>9}{'answers':>9}{'handoffs':>9}{'tickets':>8}  ok")
for path in sorted(glob.glob(os.path.join(results, "routing-e2e-*.json"))):
    r = json.load(open(path))
    _, _, durability, rate = os.path.basename(path)[:-5].split("-")
    lat = {l["kind"]: l for l in r["latency"]}
    b, h, a = lat.get("bot_answer", {}), lat.get("handoff", {}), lat.get("agent_reply", {})
    g = r.get("routing", {})
    print(f"  {durability:<10}{rate:>8}{r['throughput']['sent_per_sec']:>9.0f}{b.get('p50', 0):>9.0f}"
          f"{b.get('p99', 0):>9.0f}{b.get('max', 0):>10.0f}{h.get('p50', 0):>12.0f}{h.get('p99', 0):>9.0f}"
          f"{a.get('p50', 0):>10.0f}{a.get('p99', 0):>9.0f}{g.get('bot_answers', 0):>9}"
          f"{g.get('handoffs', 0):>9}{g.get('tickets', 0):>8}  {r['correctness_ok']}")
PY
