#!/usr/bin/env bash
# Checks the embedded web assets (shards/web/, issue 17):
# - shards/web/switchboard.js is the SDK's IIFE build: rebuilds clients/js (npm ci from the npm registry,
#   install scripts not run; npm run build) and fails when the committed copy differs from
#   dist/switchboard.iife.js without its `//# sourceMappingURL=` line (the map is not served);
# - size budgets, gzip -9: loader.js <= 3 KB; the widget (widget.html + widget.js + switchboard.js +
#   app.css) <= 60 KB; prints every size (the console's too).
# Usage: bash scripts/web-assets-check.sh [--update]   (--update rewrites shards/web/switchboard.js)
set -euo pipefail
cd "$(dirname "$0")/.."
web=shards/web
sdk=clients/js

echo "web-assets: building the SDK"
(cd "$sdk" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null && npm run build >/dev/null)
built=$(mktemp)
trap 'rm -f "$built"' EXIT
sed '/^\/\/# sourceMappingURL=/d' "$sdk/dist/switchboard.iife.js" >"$built"
if [ "${1:-}" = "--update" ]; then
  cp "$built" "$web/switchboard.js"
  echo "web-assets: updated $web/switchboard.js"
fi
status=0
if cmp -s "$built" "$web/switchboard.js"; then
  echo "web-assets: $web/switchboard.js is the current SDK build"
else
  echo "web-assets: $web/switchboard.js differs from the SDK build (run: bash scripts/web-assets-check.sh --update)"
  status=1
fi

gz() { cat "$@" | gzip -9 -c | wc -c; }
raw() { cat "$@" | wc -c; }
report() { # name, budget bytes (0: none), files...
  local name=$1 budget=$2
  shift 2
  local size verdict=""
  size=$(gz "$@")
  if [ "$budget" -gt 0 ]; then
    if [ "$size" -le "$budget" ]; then verdict=" (budget $budget B: ok)"; else verdict=" (budget $budget B: OVER)"; status=1; fi
  fi
  printf 'web-assets: %-34s %7d B raw, %6d B gzipped%s\n' "$name" "$(raw "$@")" "$size" "$verdict"
}
# Each file alone, then the budgets (the widget's files as one gzip stream would be smaller; each file is
# served and compressed on its own, so the budget adds the files' own gzipped sizes).
for file in "$web"/*; do report "$(basename "$file")" 0 "$file"; done
report "loader.js" 3072 "$web/loader.js"
widget_total=0
for file in widget.html widget.js switchboard.js app.css; do
  widget_total=$((widget_total + $(gz "$web/$file")))
done
console_total=0
for file in console.html console.js switchboard.js app.css; do
  console_total=$((console_total + $(gz "$web/$file")))
done
if [ "$widget_total" -le 61440 ]; then verdict=ok; else verdict=OVER; status=1; fi
echo "web-assets: widget total (html+js+sdk+css)        $widget_total B gzipped (budget 61440 B: $verdict)"
echo "web-assets: console total (html+js+sdk+css)       $console_total B gzipped (no budget)"
[ "$status" -eq 0 ] && echo "web-assets: passed" || echo "web-assets: FAILED"
exit "$status"
