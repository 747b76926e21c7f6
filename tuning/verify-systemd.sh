#!/usr/bin/env bash
# Checks tuning/systemd/switchboard.service with `systemd-analyze verify`.
#
# The unit's ExecStart names the installed binary (/usr/local/bin/switchboard), which a CI machine does not
# have, and `verify` rejects a unit whose executable is missing. So the unit is copied to a temporary
# directory with ExecStart pointed at /bin/true, and the copy is verified.
#
# Usage: tuning/verify-systemd.sh [unit-file]   (default: tuning/systemd/switchboard.service)
#
# Prints "skipped: ..." and exits 0 when systemd-analyze is not installed. Exits 1 on any finding about the
# unit. Messages about the machine itself (not booted with systemd, no D-Bus) are reported, not failures.
set -euo pipefail
unit=$(realpath "${1:-$(dirname "$0")/systemd/switchboard.service}")
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "skipped: systemd-analyze not installed (apt-get install systemd to run this check)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -e 's#^ExecStart=/usr/local/bin/switchboard #ExecStart=/bin/true #' "$unit" >"$work/switchboard.service"
grep -q '^ExecStart=/bin/true ' "$work/switchboard.service" || {
  echo "error: could not rewrite ExecStart in $unit" >&2
  exit 1
}

status=0
# --man=no: do not look for the man pages named in Documentation=; a minimal image has none.
output=$(cd "$work" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./switchboard.service 2>&1) || status=$?

# Lines about the machine, not the unit: running outside a systemd-booted system or without the bus.
machine_pattern='not been booted with systemd|Failed to connect to bus|Failed to create bus|Failed to initialize manager|/run/systemd'
machine_lines=$(printf '%s\n' "$output" | grep -E "$machine_pattern" || true)
unit_lines=$(printf '%s\n' "$output" | grep -v -E "$machine_pattern" | grep -v '^$' || true)

if [ -n "$machine_lines" ]; then
  echo "note: systemd-analyze reported about this machine (not the unit):"
  printf '  %s\n' "$machine_lines"
fi
if [ -n "$unit_lines" ]; then
  echo "$unit: systemd-analyze verify found problems:" >&2
  printf '  %s\n' "$unit_lines" >&2
  exit 1
fi
if [ "$status" -ne 0 ] && [ -z "$machine_lines" ]; then
  echo "$unit: systemd-analyze verify exited $status without output" >&2
  exit 1
fi
echo "ok: $unit verified by $(systemd-analyze --version | head -n1)"
