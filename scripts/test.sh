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

# Disk: a full test run writes about 3 GB (target/, fuzz/target/, .tools/; measured on a fresh clone). A
# linker that runs out of disk dies with SIGBUS ("ld terminated with signal 7 [Bus error]"), which does not
# say why, so say how much there is up front.
# Incremental compilation only helps a developer's next build and doubles the debug target's size.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
MIN_FREE_DISK_GB=4
step "disk"
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
df -h "$target_dir"
free_kb=$(df -Pk "$target_dir" | awk 'NR == 2 { print $4 }')
if [ "$free_kb" -lt $((MIN_FREE_DISK_GB * 1024 * 1024)) ]; then
  echo "warning: $((free_kb / 1024)) MiB free under $target_dir; a full run writes about 3 GB; keep ${MIN_FREE_DISK_GB} GB free." >&2
  echo "warning: if a link fails with 'signal 7 [Bus error]', the disk is full: free space or set CARGO_TARGET_DIR." >&2
fi

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

step "TypeScript SDK (clients/js) against the server"
bash scripts/js-client-test.sh

step "protocol conformance suite (Python, both subprotocols, written from docs/protocol.md)"
bash scripts/conformance-test.sh -q

step "web assets: embedded SDK build up to date, widget and loader size budgets"
bash scripts/web-assets-check.sh

step "widget and agent console in headless Chromium (Debian package)"
bash scripts/browser-test.sh

# Last, so its summary line is the last thing CI prints.
step "unit and integration tests (nextest)"
cargo nextest run --workspace --locked --no-fail-fast
