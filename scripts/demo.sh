#!/usr/bin/env bash
# The README's demo: installs what is missing, builds, then runs
#   - the Entra ID stand-in (tests/fakes/entra_standin.py) issuing 20-second tokens,
#   - the Azure Redis stand-in (tests/fakes/azure_redis_standin.py): a real
#     redis-server behind a proxy that accepts exactly those tokens for exactly
#     their lifetime and drops connections whose token expired,
#   - tokenwell-agent keeping an Entra token (client secret) and a file secret fresh,
#   - examples/redis_app: hiredis + tokenwell/hiredis.h issuing ~20 commands/s,
#   - a live view: generation, username (the oid), time to expiry, IdP requests,
#     the app's commands ok/failed and re-AUTHs, the stand-in's drops; then an
#     IdP outage longer than a token's life, and the recovery.
# Until Ctrl-C, or --duration SECONDS. Everything it starts is stopped on exit.
#   scripts/demo.sh [--duration SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

duration=0
while (($#)); do
  case $1 in
    --duration) duration=${2:?--duration needs SECONDS}; shift 2 ;;
    --duration=*) duration=${1#*=}; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
echo "demo: building (first time takes a few minutes)"
cmake -S . -B build-demo -G Ninja -DTOKENWELL_BUILD_TESTS=OFF -DTOKENWELL_BUILD_BENCH=OFF >/dev/null
cmake --build build-demo --target tokenwell-agent tokenwell_cli redis_app >/dev/null

work=$(mktemp -d /tmp/tokenwell-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
  echo "demo: stopped everything it started"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# The stand-ins need cryptography: the pinned test venv (build/venv/test), made if missing.
python=$(scripts/python-venv.sh test tests/python/requirements/test.txt)
$python tests/fakes/entra_standin.py --port 0 --state-dir "$work/standin" --token-lifetime 20 \
  >"$work/standin.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -f $work/standin/standin.json ]] && break; sleep 0.1; done
[[ -f $work/standin/standin.json ]] || { cat "$work/standin.log"; exit 1; }
state() { $python -c "import json,sys; d=json.load(open('$work/standin/standin.json')); print(eval(sys.argv[1]))" "$1"; }
admin=$(state "d['admin_url']")

$python tests/fakes/azure_redis_standin.py --entra "$work/standin" --state-dir "$work/redis" \
  >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [[ -f $work/redis/azure_redis.json ]] && break; sleep 0.1; done
[[ -f $work/redis/azure_redis.json ]] || { cat "$work/redis.log"; exit 1; }
redis_port=$($python -c "import json; print(json.load(open('$work/redis/azure_redis.json'))['nodes'][0]['port'])")

mkdir -p "$work/secrets"
printf 'legacy-password-1' >"$work/secrets/legacy"
cat >"$work/config.json" <<JSON
{
  "runtime_dir": "$work/run",
  "listen": "127.0.0.1:0",
  "log": {"level": "info", "format": "json"},
  "credentials": [
    {"name": "redis", "source": "entra",
     "tenant_id": "$(state "d['tenant']")", "client_id": "$(state "d['config']['clients'][0]['client_id']")",
     "authority_host": "$(state "d['base_url']")", "ca_file": "$(state "d['ca_file']")",
     "auth": {"method": "client_secret", "secret_file": "$(state "d['files']['client_secret']")"},
     "refresh": {"retry_min": "1s", "retry_max": "4s"}},
    {"name": "legacy", "source": "file", "path": "$work/secrets/legacy", "username": "default"}
  ]
}
JSON
build-demo/agent/tokenwell-agent --config "$work/config.json" 2>"$work/agent.log" &
pids+=($!)
export TOKENWELL_DIR=$work/run
cli=build-demo/client-shim/cli/tokenwell
$cli wait redis --timeout 15 >/dev/null
build-demo/examples/redis_app --host 127.0.0.1 --port "$redis_port" --status "$work/app.json" \
  2>"$work/app.log" &
pids+=($!)

echo
echo "tokenwell demo: 20-second Entra tokens, refreshed at ~75% of their life; a hiredis app"
echo "on a strict Azure Redis stand-in (port $redis_port) re-AUTHs on every rotation."
echo "Agent log: $work/agent.log. Ctrl-C to stop."
$python scripts/demo_view.py --cli "$cli" --admin "$admin" --secret-file "$work/secrets/legacy" \
  --duration "$duration" --app-status "$work/app.json" --redis-events "$work/redis/events.jsonl"
