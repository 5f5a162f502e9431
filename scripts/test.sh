#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with warnings
# as errors, runs every test suite, then the segment again under
# ThreadSanitizer, everything that parses outside input under ASan/UBSan,
# the fuzzers for a short while, a consumer of the installed package, the
# Helm chart rendered and checked with the real helm (scripts/helm-check.sh),
# the image built and run (scripts/image-check.sh), and the docs' snippets
# run or validated (scripts/doc-check.py). Each step prints how long it took.
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    the main build and its tests only
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ ${1:-} == --quick ]] && quick=1
jobs=$(nproc)

scripts/install-deps.sh

step_name=""
step_started=$SECONDS
step() {
  [[ -n $step_name ]] && printf '=== %s: %ds\n' "$step_name" $((SECONDS - step_started))
  step_name=$*
  step_started=$SECONDS
  printf '\n=== %s\n' "$*"
}
trap '[[ -n $step_name ]] && printf "=== %s: %ds\n" "$step_name" $((SECONDS - step_started))' EXIT

step "build (warnings are errors)"
cmake --preset dev >/dev/null          # CMakePresets.json: build/, ccache when installed
cmake --build --preset dev -j "$jobs"

step "tests"
ctest --test-dir build --output-on-failure -j "$jobs"
((quick)) && exit 0

step "Helm chart: lint, render every ci/ scenario, Kubernetes schemas, assertions, the injector on real pods"
TOKENWELL_HELM_CHECK_REQUIRE_BINARIES=1 scripts/helm-check.sh

step "docs: the generated config schema and reference are current; every snippet run or validated"
python3 scripts/generate-config-schema.py --check
build/venv/test/bin/python scripts/doc-check.py --agent build/agent/tokenwell-agent \
  --cli build/client-shim/cli/tokenwell --helm "$(scripts/helm-check.sh --print-helm)" \
  --python build/venv/test/bin/python

step "segment under ThreadSanitizer"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$jobs" --target tests/agent/segment/all
# TSan sees races between threads of one process: the threaded test is what
# it is here for. The multi-process stress test (readers are forked children)
# runs its 10 M reads in "tests"; here 1 M (10 M took ~6 min under TSan).
TOKENWELL_STRESS_READS=1000000 ctest --test-dir build-tsan -L segment --output-on-failure

step "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs" --target unit-tests   # what -L unit runs, nothing more
# The Go, Java and Rust bindings read the segment in their own language (no
# C code to instrument) and ran in "tests": not again here.
ctest --test-dir build-asan -L unit -LE '^unit:(go|java|rust)$' --output-on-failure -j "$jobs"

step "fuzzers (short run each)"
scripts/fuzz.sh "${TOKENWELL_FUZZ_SECONDS:-20}"   # 7 targets: under 3 minutes of CI

step "consumer of the installed package"
rm -rf build/install-root build/consumer
cmake --install build --prefix "$PWD/build/install-root" >/dev/null
cmake -S tests/consumer -B build/consumer -G Ninja \
  -DCMAKE_PREFIX_PATH="$PWD/build/install-root" >/dev/null
cmake --build build/consumer
cc tests/consumer/consumer.c -o build/consumer/consumer-pkgconfig \
  $(PKG_CONFIG_PATH="$PWD/build/install-root/lib/pkgconfig" pkg-config --cflags --libs tokenwell)
LD_LIBRARY_PATH="$PWD/build/install-root/lib" build/consumer/consumer
LD_LIBRARY_PATH="$PWD/build/install-root/lib" build/consumer/consumer-pkgconfig
cc tests/consumer/consumer_jwt.c -o build/consumer/consumer-jwt-pkgconfig \
  $(PKG_CONFIG_PATH="$PWD/build/install-root/lib/pkgconfig" pkg-config --cflags --libs tokenwell-jwt)
LD_LIBRARY_PATH="$PWD/build/install-root/lib" build/consumer/consumer_jwt
LD_LIBRARY_PATH="$PWD/build/install-root/lib" build/consumer/consumer-jwt-pkgconfig
echo "consumer: 4 passed, 0 failed"

step "image: podman build of the Dockerfile from a debootstrap base, its agent, CLI and injector run"
scripts/image-check.sh
