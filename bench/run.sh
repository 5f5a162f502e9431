#!/usr/bin/env bash
# Builds a Google Benchmark binary in Release and runs it; prints the table
# that docs/benchmarks.md records.
#   bench/run.sh [extra Google Benchmark flags]        the read path (read_bench)
#   TOKENWELL_BENCH=jwt_bench bench/run.sh [flags]     JWT verify (bench/run_jwt.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${TOKENWELL_BENCH:-read_bench}
scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOKENWELL_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target "$bench" >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"build-bench/bench/$bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.5 "$@"
