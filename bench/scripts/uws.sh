#!/usr/bin/env bash
# uWebSockets beside Switchboard and the Rust peers, and uWebSockets' `load_test` as a second, neutral
# client beside `switchboard-loadgen` (issue 19). Never part of CI.
#
#   bash bench/scripts/uws.sh                      # full comparison (5 rounds × 10 s; see `compare --help`)
#   bash bench/scripts/uws.sh --quick              # smoke: 2 rounds × 2 s, 100 × 64 B (+ load_test 100 × 64 B)
#   bash bench/scripts/uws.sh --runs 3 --duration 4 --sizes 64,1024 --idle-connections --load-fractions
#   SERVERS=switchboard,uwebsockets RESULTS_DIR=bench/results/uws NO_BUILD=1 bash bench/scripts/uws.sh --quick
#
# It runs `switchboard-bench compare --servers $SERVERS --results-dir $RESULTS_DIR` with the arguments
# given: every server on CPU 0, interleaved round by round, the load on CPU 1; the closed-loop cells of
# `--load-test-cells` (default 100x64,1000x1024,500x16384) are driven a second time by `load_test`, in the
# same rounds, and recorded with `"neutral_client": "uWebSockets load_test"` and that driver named.
#
# The uWebSockets binaries are not built by cargo nor by this repository: `uws_echo` (uWebSockets'
# examples/EchoServer.cpp taking HOST PORT, compression off, uSockets on epoll, no TLS, one thread) and
# `load_test` (uWebSockets' benchmarks/load_test.c), in $UWS_BIN_DIR (default target/uws). README,
# Performance, says where their source is. Without them this prints why and exits 0 ("skipped").
set -euo pipefail
cd "$(dirname "$0")/../.."
UWS_BIN_DIR=${UWS_BIN_DIR:-target/uws}
SERVERS=${SERVERS:-switchboard,uwebsockets,fastwebsockets,tokio-tungstenite}
RESULTS_DIR=${RESULTS_DIR:-bench/results/uws}
for binary in uws_echo load_test; do
  if [ ! -x "$UWS_BIN_DIR/$binary" ]; then
    echo "uwebsockets: skipped: $UWS_BIN_DIR/$binary is not built (uWebSockets is built from its public" \
      "source outside this repository with the distribution's g++; see README, Performance)"
    exit 0
  fi
done
command -v stdbuf > /dev/null || { echo "uwebsockets: skipped: stdbuf (coreutils) is missing"; exit 0; }
UWS_BIN_DIR=$(cd "$UWS_BIN_DIR" && pwd)
export UWS_BIN_DIR
if [ -z "${NO_BUILD:-}" ]; then
  nice -n 10 cargo build --release --quiet -p switchboard-shards --bin switchboard \
    -p switchboard-bench --bins -p switchboard-loadgen --bin switchboard-loadgen \
    -p switchboard-core --example tcp_echo
fi
exec ./target/release/switchboard-bench compare --no-build --servers "$SERVERS" \
  --results-dir "$RESULTS_DIR" "$@"
