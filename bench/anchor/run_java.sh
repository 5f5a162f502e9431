#!/usr/bin/env bash
# tokenwell vs redis-authx-entraid (Jedis 8, MSAL4J), side by side (compare_java.py says what is
# measured). Run by hand, not in CI; about 5 minutes with the defaults.
#   bench/anchor/run_java.sh [--clients 8] [--lifetime 20] [--steady 60] [--outage 110] [--recovery 45]
#                            [--entraid-timeout-ms MS]   (redis-authx-entraid's request timeout)
# Builds tokenwell-agent and the CLI into build/, installs the Java binding and resolves the
# bench's pinned Maven dependencies into build/m2, prints the Markdown report on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build --target tokenwell-agent tokenwell_cli >/dev/null

m2=$PWD/build/m2
out=$PWD/build/bench-anchor-java
mvn -B -q -ntp -Dmaven.repo.local="$m2" -Dtokenwell.buildDirectory="$out/binding" \
  -f client-shim/java/pom.xml install -DskipTests >&2
mvn -B -q -ntp -Dmaven.repo.local="$m2" -Dtokenwell.buildDirectory="$out/target" \
  -f bench/anchor/java/pom.xml compile dependency:build-classpath -Dmdep.outputFile="$out/classpath.txt" >&2
echo "$out/target/classes:$(cat "$out/classpath.txt")" > "$out/run-classpath.txt"
# The test venv (cryptography for the stand-ins), made by the configure above.
exec build/venv/test/bin/python bench/anchor/compare_java.py --agent build/agent/tokenwell-agent --classpath "$out/run-classpath.txt" "$@"
