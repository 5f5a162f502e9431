#!/usr/bin/env bash
# Re-makes the PNGs of docs/observability.md: a real Prometheus scraping a real
# tokenwell-agent that rotates 60-second tokens from the Entra stand-in through
# IdP throttling and an outage (about 7 minutes), the dashboard's main panels
# drawn from the Prometheus query API (docs/observability/make_pictures.py).
#   scripts/observability-pictures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --pictures
[[ -f build/build.ninja ]] || cmake -S . -B build -G Ninja >/dev/null
cmake --build build --target tokenwell-agent
/usr/bin/python3 docs/observability/make_pictures.py --agent build/agent/tokenwell-agent
