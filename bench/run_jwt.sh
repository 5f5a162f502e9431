#!/usr/bin/env bash
# Builds the JWT benchmark in Release and runs it; prints the table that
# docs/benchmarks-jwt.md records.
#   bench/run_jwt.sh [extra Google Benchmark flags]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOKENWELL_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target jwt_bench >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
build-bench/bench/jwt_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.5 "$@"
