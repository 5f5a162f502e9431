#!/usr/bin/env bash
# tokenwell vs @redis/entraid, side by side (compare.js says what is measured).
# Run by hand, not in CI; takes about 4 minutes with the defaults.
#   bench/anchor/run.sh [--clients 8] [--lifetime 20] [--steady 60] [--outage 110] [--recovery 45]
#                       [--retry-max SECONDS]
# Builds tokenwell-agent into build/, installs the locked npm packages into
# build/bench-anchor/, prints the Markdown report on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build --target tokenwell-agent >/dev/null

deps=build/bench-anchor
mkdir -p "$deps"
if ! cmp -s bench/anchor/package-lock.json "$deps/package-lock.json" || [[ ! -d $deps/node_modules ]]; then
  cp bench/anchor/package.json bench/anchor/package-lock.json "$deps/"
  (cd "$deps" && npm ci --no-audit --no-fund --loglevel=error)
fi
NODE_PATH=$PWD/$deps/node_modules exec node bench/anchor/compare.js --agent build/agent/tokenwell-agent "$@"
