#!/bin/sh
# npm_ci.sh SRC_DIR OUT_DIR: installs tests/node's locked npm dependencies
# into OUT_DIR/node_modules; skipped when the lock file has not changed.
set -eu
src=$1 out=$2
mkdir -p "$out"
if [ -d "$out/node_modules" ] && cmp -s "$src/package-lock.json" "$out/package-lock.json"; then
  exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$out/"
cd "$out"
npm ci --no-audit --no-fund --loglevel=error
