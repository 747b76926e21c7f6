#!/usr/bin/env bash
# Runs every check CI runs, on a fresh clone: formatting, lints, docs, generated-code drift, unit and
# integration tests, the fuzz smoke run, the Autobahn conformance suite and the systemd unit check.
# It installs whatever it needs itself (see scripts/ensure-tools.sh); it never needs anything installed by hand.
#
# Usage: bash scripts/test.sh            # everything
#        SKIP_AUTOBAHN=1 SKIP_FUZZ=1 bash scripts/test.sh   # the quick inner loop
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "tools"
bash scripts/ensure-tools.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (broken intra-doc links denied)"
RUSTDOCFLAGS="-D warnings -D rustdoc::broken_intra_doc_links" cargo doc --workspace --no-deps --locked

if [ -x scripts/check-flatc.sh ] || [ -f scripts/check-flatc.sh ]; then
  step "flatc: regenerated FlatBuffers code matches the checked-in code"
  bash scripts/check-flatc.sh
fi

step "doc tests"
cargo test --workspace --doc --locked

if [ -f tuning/verify-systemd.sh ]; then
  step "systemd unit"
  bash tuning/verify-systemd.sh
fi

if [ -z "${SKIP_FUZZ:-}" ]; then
  step "fuzz smoke run"
  bash scripts/fuzz-smoke.sh
fi

if [ -z "${SKIP_AUTOBAHN:-}" ] && [ -f scripts/autobahn.sh ]; then
  step "Autobahn fuzzingclient suite"
  bash scripts/autobahn.sh
fi

step "benchmark dashboard in headless Chromium"
bash scripts/dashboard-test.sh

step "Python websockets client against the server"
bash scripts/python-client-test.sh

# Last, so its summary line is the last thing CI prints.
step "unit and integration tests (nextest)"
cargo nextest run --workspace --locked --no-fail-fast
