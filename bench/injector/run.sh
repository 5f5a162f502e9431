#!/usr/bin/env bash
# The injector's admission latency and throughput over TLS: a Release
# tokenwell-injector (2 threads, info log to a file, the chart's sidecar
# spec), and wrk with 200 concurrent connections POSTing a Deployment's pod
# (tests/injector/pods/deployment-pod.json) for 30 s -- once on kept-alive
# connections (what the API server does), once with a new TLS connection per
# request (Connection: close). Prints wrk's latency distribution (p50, p99)
# and requests/s, and the injector's own decision-time histogram.
#   bench/injector/run.sh [SECONDS]            (as root the first time: installs wrk)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
scripts/install-deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOKENWELL_BUILD_TESTS=OFF \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build-bench -j2 --target tokenwell-injector >/dev/null

work=$(mktemp -d)
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" \
  -out "$work/tls.crt" -days 1 -subj /CN=tokenwell-injector -addext subjectAltName=IP:127.0.0.1 2>/dev/null
python3 - tests/injector/pods/deployment-pod.json >"$work/review.json" <<'PY'
import json, sys
pod = json.load(open(sys.argv[1]))
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                              "resource": {"group": "", "version": "v1", "resource": "pods"},
                              "namespace": "shop", "operation": "CREATE", "object": pod}}))
PY
build-bench/injector/tokenwell-injector --sidecar-spec tests/injector/sidecar-spec.json \
  --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" --listen 127.0.0.1:0 --threads 2 \
  2>"$work/injector.log" &
pid=$!
port=""
for _ in $(seq 100); do
  port=$(grep -o '"port":[0-9]*' "$work/injector.log" | head -1 | cut -d: -f2 || true)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { cat "$work/injector.log"; exit 1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "review: $(wc -c <"$work/review.json") bytes; injector: 2 threads; wrk: 2 threads, 200 connections, ${seconds}s"
export TOKENWELL_REVIEW=$work/review.json
echo; echo "--- kept-alive connections"
wrk -t2 -c200 -d"${seconds}s" --latency -s bench/injector/admission.lua "https://127.0.0.1:$port/mutate"
echo; echo "--- a new TLS connection per request"
wrk -t2 -c200 -d"${seconds}s" --latency -s bench/injector/admission.lua -H "Connection: close" \
  "https://127.0.0.1:$port/mutate"
echo; echo "--- the injector's decision time (tokenwell_injector_admission_duration_seconds)"
curl -sk "https://127.0.0.1:$port/metrics" | grep -E '^tokenwell_injector_admission_(duration_seconds_(sum|count)|requests_total)'
