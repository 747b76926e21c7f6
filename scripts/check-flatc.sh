#!/usr/bin/env bash
# Regenerates the FlatBuffers Rust code for switchboard.v1 bodies into a temporary directory and diffs it
# against the checked-in copy under protocol/src/app/generated/. Exits non-zero on any difference.
#
#   scripts/check-flatc.sh           check (CI)
#   scripts/check-flatc.sh --write   regenerate the checked-in copy after editing protocol/schema/*.fbs
#
# The generator is pinned to flatc 2.0.8 (Debian bookworm `flatbuffers-compiler`), whose output matches the
# `flatbuffers = "2.1"` runtime pinned in the workspace Cargo.toml.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
schema_dir="$root/protocol/schema"
generated_dir="$root/protocol/src/app/generated"
flatc_version_expected="2.0.8"

if ! command -v flatc >/dev/null 2>&1; then
    echo "flatc not found; installing flatbuffers-compiler with apt-get" >&2
    if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    "${apt_get[@]}" update -qq
    "${apt_get[@]}" install -y -qq flatbuffers-compiler
fi

flatc_version="$(flatc --version | awk '{print $3}')"
if [ "$flatc_version" != "$flatc_version_expected" ]; then
    echo "flatc $flatc_version found, $flatc_version_expected required (generated code must match the runtime)" >&2
    exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
flatc --rust -o "$tmp" "$schema_dir"/*.fbs

if [ "${1:-}" = "--write" ]; then
    cp "$tmp"/*_generated.rs "$generated_dir"/
    echo "regenerated into $generated_dir"
    exit 0
fi

status=0
for generated in "$tmp"/*_generated.rs; do
    name="$(basename "$generated")"
    if ! diff -u "$generated_dir/$name" "$generated"; then
        echo "protocol/src/app/generated/$name is stale: run scripts/check-flatc.sh --write" >&2
        status=1
    fi
done
for checked_in in "$generated_dir"/*_generated.rs; do
    if [ ! -e "$tmp/$(basename "$checked_in")" ]; then
        echo "protocol/src/app/generated/$(basename "$checked_in") has no schema" >&2
        status=1
    fi
done
exit "$status"
