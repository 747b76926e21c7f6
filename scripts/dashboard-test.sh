#!/usr/bin/env bash
# Renders the benchmark dashboard (bench/dashboard/index.html) in headless Chromium and checks it:
# no console errors, and every chart's <svg> is in the rendered DOM (the Scenarios chart included, with
# its curves when the history has scenario records). Saves a screenshot to
# bench/results/dashboard.png. Installs Debian's `chromium` if it is missing.
#
# Usage: bash scripts/dashboard-test.sh
# The page is regenerated first from bench/results/history.jsonl, or from the committed
# bench/results/sample-history.jsonl when there is no history yet.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "dashboard-test: FAILED: $*" >&2; exit 1; }

step "chromium"
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
chromium --version

step "render the page"
page=bench/dashboard/index.html
history=bench/results/history.jsonl
[ -s "$history" ] || history=bench/results/sample-history.jsonl
cargo run --quiet -p switchboard-bench --bin switchboard-bench -- report --history "$history" --out "$page"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
       --disable-sync --no-first-run --user-data-dir="$scratch/profile")
url="file://$PWD/$page"

step "headless DOM and console"
chromium "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "$url" >"$scratch/dom.html" 2>"$scratch/console.log" ||
  fail "chromium exited with an error: $(tail -5 "$scratch/console.log")"
if grep -E "Uncaught|ERROR:CONSOLE|CONSOLE\([0-9]+\).*[Ee]rror" "$scratch/console.log"; then
  fail "console errors (above)"
fi
charts=$(grep -o 'data-chart="[^"]*"' "$page" | sort -u)
[ -n "$charts" ] || fail "the page has no charts"
for chart in $charts; do
  grep -q "$chart" "$scratch/dom.html" || fail "$chart is not in the rendered DOM"
done
# The Scenarios section (compare --scenario) always has its deliver-latency chart, empty or not.
for chart in 'data-chart="scenario-deliver"'; do
  grep -q "$chart" "$scratch/dom.html" || fail "$chart (Scenarios section) is not in the rendered DOM"
done
if grep -q '"scenarios":\[{' "$history"; then
  grep -oP 'data-chart="scenario-deliver".*?</svg>' "$scratch/dom.html" | grep -q 'class="curve"' ||
    fail "the history has scenario records but scenario-deliver draws no curve"
fi
expected=$(grep -o '<svg class="chart"' "$page" | wc -l)
rendered=$(grep -o '<svg class="chart"' "$scratch/dom.html" | wc -l)
[ "$expected" = "$rendered" ] || fail "$rendered of $expected charts rendered"
legends=$(grep -o '<g class="legend">' "$scratch/dom.html" | wc -l)
axes=$(grep -o '<g class="axis [xy]">' "$scratch/dom.html" | wc -l)
[ "$legends" = "$expected" ] || fail "$legends legends for $expected charts"
[ "$axes" = "$(( 2 * expected ))" ] || fail "$axes axes for $expected charts"
echo "$rendered charts rendered, no console errors"

step "screenshot"
chromium "${flags[@]}" --hide-scrollbars --window-size=1400,4600 --screenshot="$scratch/dashboard.png" "$url" \
  2>>"$scratch/console.log" >/dev/null || fail "screenshot failed"
cp "$scratch/dashboard.png" bench/results/dashboard.png
echo "saved bench/results/dashboard.png"
echo "dashboard-test: OK in $(( $(date +%s) - started )) s"
