#!/usr/bin/env bash
# tokenwell vs go-redis-entraid, side by side: bench/anchor/run.sh with the Go
# clients of bench/anchor/go (go-redis + the Go binding, go-redis +
# go-redis-entraid/azidentity), modules pinned by bench/anchor/go/go.sum.
# Run by hand, not in CI; about 4.5 minutes with the defaults.
#   bench/anchor/run_go.sh [--clients 8] [--lifetime 20] [--steady 60] [--outage 110] [--recovery 45]
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build/bench-anchor
(cd bench/anchor/go && CGO_ENABLED=0 GOFLAGS='-mod=readonly -buildvcs=false' GOTOOLCHAIN=local \
  go build -o ../../../build/bench-anchor/anchor-client-go .)
exec bench/anchor/run.sh --go-client "$PWD/build/bench-anchor/anchor-client-go" "$@"
