#!/usr/bin/env bash
# A short smoke run of every fuzz target (seconds each), reachable from CI. Long runs:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> -- -max_total_time=3600
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the machine's one stable toolchain
# accept them (no other toolchain can be fetched here).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-10}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
cd fuzz
targets=$(cargo fuzz list)
for target in $targets; do
  mkdir -p "corpus/$target"
  work="target/smoke-corpus/$target"
  rm -rf "$work"; mkdir -p "$work"
  cp -r "corpus/$target/." "$work/" 2>/dev/null || true
  echo "fuzz smoke: $target for ${seconds}s"
  cargo fuzz run --sanitizer none "$target" "$work" -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 2>&1 | tail -n 4
done
echo "fuzz smoke: all targets ran without a crash"
