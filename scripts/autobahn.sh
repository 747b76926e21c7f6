#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzingclient against `switchboard serve --mode echo` and compares the outcome of
# every case with the committed expectations in scripts/autobahn/expected.json.
#
# autobahntestsuite 25.10.1 is Python 2 only: it is installed into .tools/autobahn (a virtualenv made with
# pyenv's 2.7.18, which the machine image carries). Set AUTOBAHN_UPDATE=1 to rewrite expected.json after a
# deliberate change (and review the diff).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv="$root/.tools/autobahn"
port="${AUTOBAHN_PORT:-9001}"

py2=""
for candidate in "$(command -v python2.7 || true)" "${PYENV_ROOT:-$HOME/.pyenv}/versions/2.7.18/bin/python2.7"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then py2="$candidate"; break; fi
done
if [ -z "$py2" ]; then echo "autobahn: no working python2.7 found (pyenv 2.7.18 expected)" >&2; exit 1; fi

if [ ! -x "$venv/bin/wstest" ]; then
  echo "autobahn: installing autobahntestsuite 25.10.1 into $venv"
  "$py2" -m pip install --user -q --disable-pip-version-check virtualenv==16.7.12 2>/dev/null
  "$py2" -m virtualenv -q "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check autobahntestsuite==25.10.1 2>/dev/null
fi

cargo build --release --locked --bin switchboard
work=$(mktemp -d)
trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

"${CARGO_TARGET_DIR:-$root/target}/release/switchboard" serve --mode echo --listen "127.0.0.1:$port" --shards 1 \
  --config scripts/autobahn/server.toml >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done

reports="$root/target/autobahn-reports"
rm -rf "$reports"
sed "s#@PORT@#$port#; s#@OUT@#$reports#" scripts/autobahn/fuzzingclient.json >"$work/spec.json"
(cd "$work" && timeout 900 "$venv/bin/wstest" -m fuzzingclient -s "$work/spec.json" >"$work/wstest.log" 2>&1) || {
  echo "autobahn: wstest failed"; tail -n 30 "$work/wstest.log"; tail -n 30 "$work/server.log"; exit 1; }

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "autobahn: the server died during the suite"; tail -n 50 "$work/server.log"; exit 1
fi

mkdir -p bench/results
python3 scripts/autobahn/compare.py "$reports/index.json" scripts/autobahn/expected.json \
  bench/results/autobahn-summary.txt
