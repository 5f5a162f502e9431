#!/usr/bin/env bash
# The JWT verify benchmark (docs/benchmarks.md, docs/benchmarks-jwt.md).
#   bench/run_jwt.sh [extra Google Benchmark flags]
TOKENWELL_BENCH=jwt_bench exec "$(dirname "$0")/run.sh" "$@"
