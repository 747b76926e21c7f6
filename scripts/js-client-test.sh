#!/usr/bin/env bash
# Tests the TypeScript client SDK (clients/js) against the real server: installs its pinned devDependencies
# with `npm ci` (from the npm registry only; install scripts are not run), builds the switchboard binary,
# type-checks, builds the ESM/IIFE bundles and declarations, runs the unit and integration tests on Node's
# built-in runner (the integration tests start `switchboard serve --mode chat` themselves on free loopback
# ports and kill it by PID), and prints the bundle sizes, failing over the 15 KiB gzipped budget.
#
# Needs node >= 20, npm and cargo. Usage: bash scripts/js-client-test.sh
# (CARGO_BUILD_JOBS=1 limits the cargo build on a shared machine; CARGO_TARGET_DIR is honoured.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sdk="$root/clients/js"

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "js-client: node >= 20 is required (found $(node --version))"; exit 1
fi

echo "js-client: npm ci"
(cd "$sdk" && npm ci --ignore-scripts --no-audit --no-fund)

echo "js-client: building the switchboard binary"
cargo build --locked -p switchboard-shards --bin switchboard
target_dir="${CARGO_TARGET_DIR:-$root/target}"
export SWITCHBOARD_BIN="$target_dir/debug/switchboard"

cd "$sdk"
echo "js-client: type-check"
npx --no-install tsc -p tsconfig.json --noEmit
echo "js-client: build"
node scripts/build.mjs

# Node 20 has a global WebSocket only behind a flag; later versions have it by default.
node_flags=()
if ! node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)'; then
  node_flags+=(--experimental-websocket)
fi
echo "js-client: tests"
timeout 900 node "${node_flags[@]}" --test test/*.test.mjs

echo "js-client: bundle sizes"
node scripts/size.mjs
echo "js-client: passed"
