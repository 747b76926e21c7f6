#!/usr/bin/env bash
# Server CPU per echoed message, servers interleaved round by round, driven by uWebSockets' `load_test`
# (issue 19). Each run: the server pinned to CPU 0, `load_test` to CPU 1; the first 4-s report (connects,
# warm-up) is dropped, then the server's utime+stime (/proc/PID/stat) over REPORTS reports is divided by
# the messages those reports count. The client's CPU per message is printed beside it: it does the same
# work whatever the server, so when it moves the machine was busy (a noise gauge on a shared machine).
# Never part of CI.
#
#   bash bench/scripts/cpu-per-message.sh ROUNDS CONNECTIONS BYTES LABEL=KIND:BINARY [LABEL=KIND:BINARY ...]
#   bash bench/scripts/cpu-per-message.sh 3 500 16384 before=switchboard:/tmp/sb-before \
#     after=switchboard:target/release/switchboard uws=uwebsockets:target/uws/uws_echo
#
# KIND is `switchboard` (`serve --mode echo --shards 1` with the comparison's config) or `uwebsockets`
# (`uws_echo HOST PORT`). REPORTS (default 2) sets the measured 4-s reports per run; LOAD_TEST the client
# binary (default target/uws/load_test; see README, Performance, for building it). Servers are killed by PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
rounds=$1 conns=$2 size=$3
shift 3
reports=${REPORTS:-2}
load_test=${LOAD_TEST:-target/uws/load_test}
[ -x "$load_test" ] || { echo "cpu-per-message: skipped: $load_test is not built"; exit 0; }
work=$(mktemp -d)
server=""
client=""
trap 'stop_pids "$client" "$server"; rm -rf "$work"' EXIT
write_echo_config "$work/switchboard.toml" "$work/data"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
reports_seen() { grep -c 'Msg/sec' "$work/load.out" || true; }

# run LABEL KIND BINARY: one measured run; appends "LABEL server_us client_us msg_per_s" to $work/rows.
run() {
  local label=$1 kind=$2 binary=$3 port=$((20000 + RANDOM % 20000))
  case $kind in
    switchboard) taskset -c 0 "$binary" serve --mode echo --shards 1 --listen "127.0.0.1:$port" \
      --config "$work/switchboard.toml" > "$work/server.log" 2>&1 & ;;
    uwebsockets) taskset -c 0 "$binary" 127.0.0.1 "$port" > "$work/server.log" 2>&1 & ;;
    *) echo "unknown kind $kind"; exit 2 ;;
  esac
  server=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  taskset -c 1 stdbuf -oL "$load_test" "$conns" 127.0.0.1 "$port" 0 0 "$size" > "$work/load.out" 2>&1 &
  client=$!
  local waited=0
  while [ "$(reports_seen)" -lt 1 ] && [ $waited -lt 1200 ]; do sleep 0.05; waited=$((waited + 1)); done
  local s0 c0 s1 c1
  s0=$(ticks "$server"); c0=$(ticks "$client")
  while [ "$(reports_seen)" -lt $((1 + reports)) ] && [ $waited -lt 2400 ]; do sleep 0.05; waited=$((waited + 1)); done
  s1=$(ticks "$server"); c1=$(ticks "$client")
  kill "$client"; wait "$client" 2>/dev/null || true; client=""
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  grep 'Msg/sec' "$work/load.out" | tail -n "$reports" | sed 's/.*Msg\/sec: *//' | python3 -c "
import sys
rates = [float(line) for line in sys.stdin if line.strip()]
if not rates:
    sys.exit(print('$label: no report from load_test (connect ramp too slow?); run skipped', file=sys.stderr))
messages = sum(rates) * 4
server_s, client_s = ($s1 - $s0) / 100, ($c1 - $c0) / 100
print('$label', round(server_s * 1e6 / messages, 2), round(client_s * 1e6 / messages, 2), round(sum(rates) / len(rates)))
" | tee -a "$work/rows"
}

for round in $(seq "$rounds"); do
  for spec in "$@"; do
    label=${spec%%=*} rest=${spec#*=}
    run "$label" "${rest%%:*}" "${rest#*:}"
  done
done
echo "== $conns connections x $size B, $rounds rounds: server CPU us/msg min / median, client us/msg median, msg/s median"
python3 - "$work/rows" "$@" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for spec in sys.argv[2:]:
    label = spec.split("=")[0]
    mine = [(float(s), float(c), float(r)) for l, s, c, r in rows if l == label]
    if mine:
        server = [m[0] for m in mine]
        print(f"{label:<10} server {min(server):6.2f} / {statistics.median(server):6.2f}"
              f"  client {statistics.median([m[1] for m in mine]):6.2f}"
              f"  {statistics.median([m[2] for m in mine]):9.0f} msg/s  (n={len(mine)})")
PY
