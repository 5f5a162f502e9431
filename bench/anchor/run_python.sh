#!/usr/bin/env bash
# tokenwell vs redis-entraid, side by side: bench/anchor/run.sh with the Python clients of
# bench/anchor/python/client.py (redis-py + the Python binding, redis-py + redis-entraid /
# azure-identity), packages pinned with hashes by bench/anchor/python/requirements.txt.
# Run by hand, not in CI; about 4.5 minutes with the defaults.
#   bench/anchor/run_python.sh [--clients 8] [--lifetime 20] [--steady 60] [--outage 110] [--recovery 45]
#                              [--retry-max SECONDS]
# Builds libtokenwell (the binding loads it through TOKENWELL_LIB) and the venv
# build/venv/anchor-python (scripts/python-venv.sh); run.sh builds the agent.
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build --target tokenwell >/dev/null
python=$(scripts/python-venv.sh anchor-python bench/anchor/python/requirements.txt)
export TOKENWELL_LIB=$PWD/build/client-shim/libtokenwell.so.0
exec bench/anchor/run.sh --python-client "$python" "$@"
