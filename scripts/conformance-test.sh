#!/usr/bin/env bash
# Protocol conformance suite: a Python client written from docs/protocol.md alone
# (shards/tests/python/conformance/) runs every flow in both subprotocols, switchboard.v1 (binary,
# FlatBuffers bodies) and switchboard.json.v1, against real `switchboard serve --mode chat` processes.
#
# What it does:
#   1. a venv under .tools/conformance with pinned packages from PyPI (nothing system-wide);
#   2. builds the server binary (debug; CONFORMANCE_RELEASE=1 for release);
#   3. generates the Python FlatBuffers bindings with `flatc --python` from protocol/schema/switchboard.fbs
#      into a temporary directory (flatc from scripts/ensure-tools.sh when missing);
#   4. runs pytest, bounded in time; the test fixtures start one server per configuration on a free
#      loopback port as tests need it and stop it by PID; this script also kills, by PID, every server the
#      fixtures recorded, on any exit.
# Exits non-zero when a test fails (xfail marks the places where the server disagrees with the docs).
#
# Usage: bash scripts/conformance-test.sh [pytest args, e.g. -k resume]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.tools/conformance"
requirements="websockets==15.0.1 flatbuffers==2.0.7 pytest==8.3.5 pytest-timeout==2.3.1"
suite_timeout_s="${CONFORMANCE_TIMEOUT_S:-240}"

stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$requirements" ]; then
  echo "conformance: installing $requirements into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $requirements
  echo "$requirements" >"$stamp"
fi

if ! command -v flatc >/dev/null 2>&1; then
  echo "conformance: flatc missing; running scripts/ensure-tools.sh"
  bash scripts/ensure-tools.sh
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
if [ -n "${CONFORMANCE_RELEASE:-}" ]; then
  cargo build --release --locked -p switchboard-shards --bin switchboard
  binary="$target_dir/release/switchboard"
else
  cargo build --locked -p switchboard-shards --bin switchboard
  binary="$target_dir/debug/switchboard"
fi

work=$(mktemp -d -t sb-conformance.XXXXXX)
cleanup() {
  # Every server the fixtures started, by PID (they also stop them, and die with pytest; this is the net).
  if [ -f "$work/server.pids" ]; then
    while read -r pid; do
      [ -n "$pid" ] || continue
      # Only a process that is still our server (its command line names our work dir).
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$work"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done <"$work/server.pids"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

flatc --python -o "$work/fbs-python" protocol/schema/switchboard.fbs

status=0
start=$(date +%s)
SB_BINARY="$binary" SB_FBS_PY="$work/fbs-python" SB_WORK="$work" \
  timeout -k 10 "$suite_timeout_s" "$venv/bin/python" -m pytest \
  -p no:cacheprovider --timeout 90 -q -rxXfE shards/tests/python/conformance "$@" || status=$?
echo "conformance: pytest exit $status after $(( $(date +%s) - start )) s"
if [ "$status" = 124 ]; then
  echo "conformance: the suite did not finish within ${suite_timeout_s} s"
fi
exit "$status"
