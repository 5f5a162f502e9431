#!/usr/bin/env bash
# Builds the project's images the way a user would and runs them (CI runs
# this from scripts/test.sh, so the deploy artifact cannot silently break):
#   1. a Debian bookworm base made with debootstrap (cached), imported under
#      the FROM names the Dockerfiles use, so nothing is pulled from a registry;
#   2. every image of `images` below built with `podman build --isolation=chroot`;
#   3. every check of `checks` below run against the built images, each on
#      its own: one failing check does not hide the others.
# Adding an image is one `images` line; adding a check is a function named
# check_<something> and a `checks` line. Among the checks, the app-image
# recipes of docs/app-images.md are built from the image and run: the CLI
# alone (bookworm-slim + bin/tokenwell + libtokenwell: --version, get, list,
# and jwt sign saying what to copy), Python and Node reading the token
# through their bindings (needs apt's network).
#
#   scripts/image-check.sh              (as root; installs debootstrap, podman, buildah)
#   TOKENWELL_IMAGE_CACHE=DIR           where the base rootfs tarballs are kept
#                                       (default /var/cache/tokenwell-image)
#   TOKENWELL_IMAGE_JOBS=N              compile jobs inside the build (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${TOKENWELL_IMAGE_CACHE:-/var/cache/tokenwell-image}
jobs=${TOKENWELL_IMAGE_JOBS:-2}

# name|Dockerfile|tag -- built in this order.
images=(
  "tokenwell|Dockerfile|localhost/tokenwell:check"
)
# Run in this order after the images are built.
checks=(
  image_metadata
  agent_check_config
  agent_once_and_cli
  app_image_cli
  app_image_bindings
  fsgroup_sharing
  library_and_headers
  injector_admission
)

step() { printf '\n=== %s\n' "$*"; }
fail() { echo "image-check: FAILED: $*" >&2; return 1; }
timer_start() { step_started=$(date +%s); }
timer_report() { echo "image-check: $1 took $(( $(date +%s) - step_started ))s"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "image-check: run as root (debootstrap and chroot builds need it)" >&2
  exit 1
fi
for tool in debootstrap podman buildah openssl curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "image-check: installing debootstrap podman buildah openssl curl"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debootstrap podman buildah openssl curl >/dev/null
    break
  fi
done

# --- 1. the base -----------------------------------------------------------
step "base image: debootstrap bookworm (minbase), tagged as debian:bookworm and debian:bookworm-slim"
timer_start
mkdir -p "$cache"
if [[ ! -s $cache/bookworm-minbase.tar ]]; then
  rm -rf "$cache/rootfs"
  debootstrap --variant=minbase bookworm "$cache/rootfs" http://deb.debian.org/debian \
    >"$cache/debootstrap.log" 2>&1 || { fail "debootstrap (see $cache/debootstrap.log)"; exit 1; }
  # What the official images do to stay small: no apt caches or package lists.
  rm -rf "$cache"/rootfs/var/lib/apt/lists/* "$cache"/rootfs/var/cache/apt/*.bin \
         "$cache"/rootfs/var/cache/apt/archives/*.deb
  tar -C "$cache/rootfs" --numeric-owner -cf "$cache/bookworm-minbase.tar.tmp" .
  mv "$cache/bookworm-minbase.tar.tmp" "$cache/bookworm-minbase.tar"
  rm -rf "$cache/rootfs"
fi
# The slim variant does what the official bookworm-slim does: no docs, man
# pages or translations, now or in packages installed later (dpkg
# path-exclude), and apt's caches cleaned after every install.
if [[ ! -s $cache/bookworm-slim.tar ]]; then
  slim=$cache/slim
  rm -rf "$slim"
  mkdir -p "$slim"
  tar -C "$slim" -xf "$cache/bookworm-minbase.tar"
  find "$slim/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$slim"/usr/share/man/* "$slim"/usr/share/info/* "$slim"/usr/share/locale/*
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    >"$slim/etc/dpkg/dpkg.cfg.d/docker"
  printf '%s\n' \
    'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' \
    >"$slim/etc/apt/apt.conf.d/docker-clean"
  tar -C "$slim" --numeric-owner -cf "$cache/bookworm-slim.tar.tmp" .
  mv "$cache/bookworm-slim.tar.tmp" "$cache/bookworm-slim.tar"
  rm -rf "$slim"
fi
for variant in bookworm:bookworm-minbase bookworm-slim:bookworm-slim; do
  tag=${variant%%:*}
  podman image exists "docker.io/library/debian:$tag" && continue
  podman import --change 'CMD ["bash"]' "$cache/${variant#*:}.tar" "docker.io/library/debian:$tag" >/dev/null
done
timer_report "the base"

# --- 2. the images ----------------------------------------------------------
declare -A image_tag
for entry in "${images[@]}"; do
  IFS='|' read -r name dockerfile tag <<<"$entry"
  step "podman build --isolation=chroot: $name ($dockerfile)"
  timer_start
  podman build --isolation=chroot --pull=never --layers \
    --build-arg REVISION="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --build-arg JOBS="$jobs" -f "$dockerfile" -t "$tag" "$root"
  timer_report "building $name"
  podman image inspect "$tag" --format "$name: {{.Size}} bytes, user {{.Config.User}}, entrypoint {{.Config.Entrypoint}}"
  image_tag[$name]=$tag
done

# --- 3. the checks ----------------------------------------------------------
work=$(mktemp -d)
containers=()
cleanup() {
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"  # /check is the pod's filesystem: every container can traverse it
helm=$(scripts/helm-check.sh --print-helm)

# One working container per image, made here (not in the $(...) subshells below).
declare -A container_of
for name in "${!image_tag[@]}"; do
  container_of[$name]=$(buildah from --pull=never "${image_tag[$name]}")
  containers+=("${container_of[$name]}")
done
container() { echo "${container_of[$1]}"; }
run() {  # run IMAGE CMD…: in the image as its own user, with $work at /check and the AZURE_* of the WI webhook
  local ctr
  ctr=$(container "$1")
  shift
  buildah run --isolation=chroot --user 65532:65532 -v "$work:/check" "${workload_identity_env[@]}" \
    "$ctr" -- "$@"
}
workload_identity_env=(
  --env AZURE_TENANT_ID=00000000-0000-0000-0000-000000000001
  --env AZURE_CLIENT_ID=00000000-0000-0000-0000-000000000002
  --env AZURE_FEDERATED_TOKEN_FILE=/check/azure-identity-token
  --env AZURE_AUTHORITY_HOST=https://login.microsoftonline.com/
)
as() {  # as IMAGE UID GID GROUPS CMD…: root in the image drops to the pod's ids (setpriv, util-linux)
  local ctr uid=$2 gid=$3 groups=(--clear-groups)
  ctr=$(container "$1")
  [[ -n $4 ]] && groups=(--groups "$4")
  shift 4
  buildah run --isolation=chroot --user 0:0 -v "$work:/check" "${workload_identity_env[@]}" "$ctr" -- \
    setpriv --reuid "$uid" --regid "$gid" "${groups[@]}" "$@"
}
# The chart's pod: the agent runs as 65532:65532 with the fsGroup (2000, the
# chart's default) as a supplementary group; `allow` names that group, and
# the agent refuses an allow it cannot give the segment.
as_pod() { as tokenwell 65532 65532 2000 "$@"; }

check_image_metadata() {
  local tag=${image_tag[tokenwell]} labels
  labels=$(podman image inspect "$tag" --format '{{json .Labels}}')
  grep -q '"org.opencontainers.image.title":"tokenwell"' <<<"$labels" || fail "OCI title label missing: $labels" || return 1
  [[ $(podman image inspect "$tag" --format '{{.Config.User}}') == 65532:65532 ]] || fail "image does not run as 65532"
}

check_agent_check_config() {
  "$helm" template check helm/tokenwell --show-only templates/configmap.yaml >"$work/configmap.yaml"
  node scripts/helm-check/config-from-configmap.mjs "$work/configmap.yaml" >"$work/agent.json"
  echo "rendered config: $(cat "$work/agent.json")"
  echo "federated-token-from-the-kubelet" >"$work/azure-identity-token"
  chmod 0644 "$work/agent.json" "$work/azure-identity-token"
  as_pod /usr/local/bin/tokenwell-agent --config /check/agent.json --check-config \
    || fail "--check-config rejected the chart's default config" || return 1
  # A broken config must fail, naming the JSON path.
  echo '{"credentials":[{"name":"bad name!","source":"file","path":"/x"}]}' >"$work/bad.json"
  chmod 0644 "$work/bad.json"
  if run tokenwell /usr/local/bin/tokenwell-agent --config /check/bad.json --check-config 2>"$work/bad.err"; then
    fail "--check-config accepted a bad name"
    return 1
  fi
  grep -q 'credentials\[0\].name' "$work/bad.err" || fail "no JSON path in: $(cat "$work/bad.err")"
}

check_agent_once_and_cli() {
  mkdir -p "$work/run"
  printf 's3cret-from-a-mounted-file\n' >"$work/redis-password"
  cat >"$work/file-source.json" <<'EOF'
{"runtime_dir": "/check/run", "log": {"level": "info", "format": "json"},
 "credentials": [{"name": "redis", "source": "file", "path": "/check/redis-password",
                  "username": "app"}]}
EOF
  chown -R 65532:65532 "$work/run" "$work/redis-password" "$work/file-source.json"
  run tokenwell /usr/local/bin/tokenwell-agent --config /check/file-source.json --once || fail "agent --once failed" || return 1
  local got user
  got=$(run tokenwell /usr/local/bin/tokenwell --dir /check/run get redis --field token)
  [[ $got == s3cret-from-a-mounted-file ]] || fail "CLI read '$got'" || return 1
  user=$(run tokenwell /usr/local/bin/tokenwell --dir /check/run get redis --field username)
  [[ $user == app ]] || fail "CLI read username '$user'" || return 1
  run tokenwell /usr/local/bin/tokenwell --dir /check/run list
}

# The app-image recipe of docs/app-images.md, for the CLI alone (and C apps):
# bookworm-slim plus bin/tokenwell and libtokenwell.so.0* copied from the
# tokenwell image $1, nothing else. Its CLI must start and read the segment
# in $2 (holding credential "redis" with token $3), and `jwt sign` must say
# what to copy.
app_image_cli() {
  local from=$1 run_dir=$2 token=$3 app=localhost/tokenwell-app:check
  local ctx actr out rc
  ctx=$(mktemp -d)
  printf '%s\n' "FROM $from AS tokenwell" "FROM docker.io/library/debian:bookworm-slim" \
    "COPY --from=tokenwell /usr/local/bin/tokenwell /usr/local/bin/" \
    "COPY --from=tokenwell /usr/local/lib/libtokenwell.so.0* /usr/local/lib/" \
    "RUN ldconfig" >"$ctx/Containerfile"
  podman build --isolation=chroot --pull=never -q -t "$app" -f "$ctx/Containerfile" "$ctx" >/dev/null \
    || { fail "app image build"; return 1; }
  rm -rf "$ctx"
  actr=$(buildah from --pull=never "$app")
  arun() { buildah run --isolation=chroot -v "$run_dir:/run/tokenwell" "$actr" -- "$@"; }
  set +e
  out=$(arun tokenwell --version 2>&1); rc=$?
  [[ $rc == 0 ]] && { out=$(arun tokenwell get redis --field token 2>&1); rc=$?; [[ $out == "$token" ]] || rc=1; }
  [[ $rc == 0 ]] && { arun tokenwell list >/dev/null 2>&1; rc=$?; }
  local sign sign_rc
  sign=$(arun tokenwell jwt sign sessions --claims '{}' 2>&1); sign_rc=$?
  set -e
  buildah rm "$actr" >/dev/null
  [[ $rc == 0 ]] || { fail "app image: the CLI does not start or read the segment: $out"; return 1; }
  [[ $sign_rc == 5 && $sign == *"needs libtokenwell-jwt.so.0"* ]] || fail "app image: jwt sign exited $sign_rc: $sign"
  echo "app image (bookworm-slim + bin/tokenwell + libtokenwell.so.0): --version, get, list ok; jwt sign: $sign"
}
# The Python and Node recipes of docs/app-images.md on Debian's own runtimes
# (the official python/node images are not pulled here): Python gets
# libtokenwell.so.0 from the tokenwell image $1 and client-shim/python from
# this checkout on PYTHONPATH (the pip route needs PyPI, which a
# TLS-intercepting network without its CA in the image cannot reach); Node
# gets only client-shim/node. Each reads credential "redis" (token $3) from
# the segment in $2 through its binding. Needs apt's network.
app_image_bindings() {
  local from=$1 run_dir=$2 token=$3 ctx actr out
  ctx=$(mktemp -d)
  printf '%s\n' "FROM $from AS tokenwell" "FROM docker.io/library/debian:bookworm-slim" \
    "RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*" \
    "COPY --from=tokenwell /usr/local/lib/libtokenwell.so.0* /usr/local/lib/" \
    "RUN ldconfig" \
    "COPY --from=tokenwell-src client-shim/python /opt/tokenwell-python" \
    "ENV PYTHONPATH=/opt/tokenwell-python" \
    >"$ctx/Containerfile.python"
  printf '%s\n' "FROM docker.io/library/debian:bookworm-slim" \
    "RUN apt-get update && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*" \
    "COPY --from=tokenwell-src client-shim/node /opt/tokenwell-node" \
    >"$ctx/Containerfile.node"
  for kind in python node; do
    podman build --isolation=chroot --pull=never -q --build-context tokenwell-src="$root" \
      -t "localhost/tokenwell-app-$kind:check" -f "$ctx/Containerfile.$kind" "$ctx" >/dev/null \
      || { fail "$kind app image build"; return 1; }
  done
  rm -rf "$ctx"
  actr=$(buildah from --pull=never localhost/tokenwell-app-python:check)
  out=$(buildah run --isolation=chroot -v "$run_dir:/run/tokenwell" "$actr" -- python3 -c \
    'import tokenwell; print(tokenwell.Client().get("redis").token)' 2>&1) || true
  buildah rm "$actr" >/dev/null
  [[ $out == "$token" ]] || { fail "python app image read: $out"; return 1; }
  actr=$(buildah from --pull=never localhost/tokenwell-app-node:check)
  out=$(buildah run --isolation=chroot -v "$run_dir:/run/tokenwell" "$actr" -- node -e \
    'console.log(require("/opt/tokenwell-node").getCredential("redis").token)' 2>&1) || true
  buildah rm "$actr" >/dev/null
  [[ $out == "$token" ]] || fail "node app image read: $out"
  echo "app images: Python (libtokenwell + the binding) and Node (the binding alone) read the token"
}

# The app-image recipes against the segment check_agent_once_and_cli wrote.
check_app_image_cli() { app_image_cli "${image_tag[tokenwell]}" "$work/run" s3cret-from-a-mounted-file; }
check_app_image_bindings() { app_image_bindings "${image_tag[tokenwell]}" "$work/run" s3cret-from-a-mounted-file; }

# The pod's sharing, as the chart sets it up: the emptyDir is group-owned by
# the pod's fsGroup (2000) with the setgid bit, the agent (65532) gets 2000 as
# a supplementary group, the app runs as 1000:2000. The segment (0640) is then
# readable by the app and by nobody outside the group.
check_fsgroup_sharing() {
  mkdir -p "$work/shared"
  chown 65532:2000 "$work/shared"
  chmod 2775 "$work/shared"
  sed -e 's|/check/run|/check/shared|' -e 's|^{|{"allow": {"gids": [2000]}, |' \
    "$work/file-source.json" >"$work/shared-source.json"
  chmod 0644 "$work/shared-source.json"
  as_pod /usr/local/bin/tokenwell-agent --config /check/shared-source.json --once \
    || fail "agent --once into the fsGroup directory" || return 1
  [[ $(stat -c %g "$work/shared/segment") == 2000 ]] || fail "segment not group-owned by the fsGroup" || return 1
  [[ $(as tokenwell 1000 2000 2000 /usr/local/bin/tokenwell --dir /check/shared get redis --field username) == app ]] \
    || fail "the app (1000:2000) cannot read the segment" || return 1
  if as tokenwell 1001 3000 "" /usr/local/bin/tokenwell --dir /check/shared get redis --field username 2>/dev/null; then
    fail "a process outside the fsGroup read the segment"
    return 1
  fi
  echo "fsGroup sharing: the app reads the segment, a stranger does not"
}


# The library and headers an application image copies.
check_library_and_headers() {
  run tokenwell sh -c 'ls /usr/local/lib/libtokenwell.so.* /usr/local/include/tokenwell/tokenwell.h \
                 /usr/local/lib/pkgconfig/tokenwell.pc /usr/local/lib/cmake/tokenwell/tokenwellConfig.cmake'
}

# The image's injector, as the chart runs it: the chart's rendered sidecar
# spec, a serving certificate; an AdmissionReview over verified TLS gets the
# sidecar patch, /metrics counts it, SIGTERM stops it.
# The pid of the process named COMM (as /proc/PID/comm has it, at most 15
# characters) among the descendants of PID, if there is one.
descendant() {
  local parent=$1 comm=$2 queue=("$1") p child
  while ((${#queue[@]})); do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for child in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
      [[ $(cat /proc/"$child"/comm 2>/dev/null) == "$comm" ]] && { echo "$child"; return 0; }
      queue+=("$child")
    done
  done
  [[ -n $parent ]]
}

check_injector_admission() {
  "$helm" template check helm/tokenwell --set injector.enabled=true --kube-version 1.30.0 \
    --show-only templates/injector-configmap.yaml >"$work/injector-configmap.yaml"
  node scripts/helm-check/config-from-configmap.mjs "$work/injector-configmap.yaml" sidecar.json >"$work/sidecar.json" \
    || fail "no sidecar.json in the injector's ConfigMap" || return 1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" \
    -out "$work/tls.crt" -days 1 -subj /CN=tokenwell-injector -addext subjectAltName=IP:127.0.0.1 2>/dev/null
  chmod 0644 "$work/sidecar.json" "$work/tls.crt" "$work/tls.key"
  run tokenwell /usr/local/bin/tokenwell-injector --sidecar-spec /check/sidecar.json --check \
    || fail "the image's injector rejects the chart's sidecar spec" || return 1
  # chroot isolation shares the host's network: a free port on the host is free for it.
  local port pid reply
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # buildah itself in the background (not a subshell around it), so $! is its pid.
  buildah run --isolation=chroot --user 65532:65532 -v "$work:/check" "$(container tokenwell)" -- \
    /usr/local/bin/tokenwell-injector --sidecar-spec /check/sidecar.json \
    --tls-cert /check/tls.crt --tls-key /check/tls.key --listen "127.0.0.1:$port" --drain-seconds 0 \
    2>"$work/injector.log" &
  pid=$!
  local up=0
  for _ in $(seq 100); do
    curl -sf --cacert "$work/tls.crt" "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && { up=1; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if ((!up)); then
    kill "$(descendant "$pid" tokenwell-injec)" "$pid" 2>/dev/null || true
    fail "the image's injector did not come up: $(cat "$work/injector.log")"
    return 1
  fi
  python3 - "$root/tests/injector/pods/deployment-pod.json" >"$work/review.json" <<'EOF'
import json, sys
pod = json.load(open(sys.argv[1]))
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": "image-check", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                              "namespace": "shop", "operation": "CREATE", "object": pod}}))
EOF
  reply=$(curl -sf --cacert "$work/tls.crt" -H 'Content-Type: application/json' --data-binary @"$work/review.json" \
            "https://127.0.0.1:$port/mutate") || reply=""
  local metrics
  metrics=$(curl -sf --cacert "$work/tls.crt" "https://127.0.0.1:$port/metrics")
  # SIGTERM to the injector itself (buildah does not pass it on): the one
  # process of that name below buildah.
  local injector_pid
  injector_pid=$(descendant "$pid" tokenwell-injec)
  [[ -n $injector_pid ]] && kill -TERM "$injector_pid"
  wait "$pid" || true
  python3 - "$reply" <<'EOF' || { fail "unexpected answer: $reply"; return 1; }
import base64, json, sys
r = json.loads(sys.argv[1])["response"]
assert r["uid"] == "image-check" and r["allowed"] and r["patchType"] == "JSONPatch", r
ops = json.loads(base64.b64decode(r["patch"]))
agent = [o for o in ops if o["path"] == "/spec/initContainers/0"][0]["value"]
assert agent["name"] == "tokenwell" and agent["restartPolicy"] == "Always", agent
print(f"injector: {len(ops)} patch operations, the agent as the first init container")
EOF
  grep -q 'tokenwell_injector_admission_requests_total{result="patched"} 1' <<<"$metrics" \
    || fail "metrics do not count the admission: $metrics" || return 1
  grep -q '"msg":"tokenwell-injector stopped"' "$work/injector.log" || fail "no clean stop: $(cat "$work/injector.log")"
}

passed=0
failed=0
for check in "${checks[@]}"; do
  step "check: $check"
  timer_start
  if "check_$check"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "image-check: $check failed"
  fi
  timer_report "$check"
done
echo "image-check: $passed passed, $failed failed"
((failed == 0))
