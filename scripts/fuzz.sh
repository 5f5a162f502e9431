#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS (default 60) from its seed corpus in tests/fuzz/corpus/NAME.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake --preset fuzz >/dev/null           # CMakePresets.json: clang, build-fuzz/
cmake --build --preset fuzz -j "$(nproc)" --target fuzzers   # the fuzzers and what they link, not the programs
for fuzzer in build-fuzz/tests/fuzz/fuzz_*; do
  [[ -x $fuzzer ]] || continue
  name=$(basename "$fuzzer")
  work=build-fuzz/corpus/$name
  mkdir -p "$work"
  seeds=tests/fuzz/corpus/${name#fuzz_}
  [[ -d $seeds ]] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  "$fuzzer" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 "$work" \
    2>build-fuzz/$name.log || { tail -50 build-fuzz/$name.log; exit 1; }
  grep -E "stat::number_of_executed_units" build-fuzz/$name.log || true
done
