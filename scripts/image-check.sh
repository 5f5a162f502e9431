#!/usr/bin/env bash
# The slow check of the Dockerfile (NOT part of CI: it compiles the project
# inside the image build, several minutes on 2 cores). It
#   1. makes a Debian bookworm base with debootstrap (cached) and imports it
#      under the Dockerfile's FROM names, so nothing is pulled from a registry;
#   2. builds the Dockerfile with `podman build --isolation=chroot` (the build
#      stage runs the unit tests);
#   3. runs the built image's agent `--check-config` on the chart's default
#      rendered config (with the variables the Azure Workload Identity webhook
#      injects), then `--once` with a `file` credential, and has the image's
#      CLI read the token from the segment that run wrote.
#
#   4. builds the app-image recipe of docs/app-images.md (bookworm-slim with
#      only the CLI and libtokenwell copied from the image) and runs its
#      `tokenwell --version`, `get`, `list` and `jwt sign` (check_app_images);
#      the Python and Node recipes read the token through their bindings
#      (check_binding_images; needs apt's network).
#
#   scripts/image-check.sh              (as root; installs debootstrap, podman, buildah)
#   scripts/image-check.sh --app-images IMAGE RUN_DIR TOKEN   step 4 alone, against IMAGE
#   TOKENWELL_IMAGE_CACHE=DIR           where the base rootfs tarball is kept
#                                       (default /var/cache/tokenwell-image)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${TOKENWELL_IMAGE_CACHE:-/var/cache/tokenwell-image}
image=localhost/tokenwell:check

step() { printf '\n=== %s\n' "$*"; }
fail() { echo "image-check: FAILED: $*" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
  echo "image-check: run as root (debootstrap and chroot builds need it)" >&2
  exit 1
fi
for tool in debootstrap podman buildah; do
  if ! command -v "$tool" >/dev/null; then
    echo "image-check: installing debootstrap podman buildah"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debootstrap podman buildah >/dev/null
    break
  fi
done

step "base image: debootstrap bookworm (minbase), tagged as debian:bookworm and debian:bookworm-slim"
mkdir -p "$cache"
if [[ ! -s $cache/bookworm-minbase.tar ]]; then
  rm -rf "$cache/rootfs"
  debootstrap --variant=minbase bookworm "$cache/rootfs" http://deb.debian.org/debian \
    >"$cache/debootstrap.log" 2>&1 || fail "debootstrap (see $cache/debootstrap.log)"
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

# The app-image recipe of docs/app-images.md, for the CLI alone (and C apps):
# bookworm-slim plus bin/tokenwell and libtokenwell.so.0* copied from the
# tokenwell image $1, nothing else. Its CLI must start and read the segment
# in $2 (holding credential "redis" with token $3), and `jwt sign` must say
# what to copy. On its own: scripts/image-check.sh --app-images IMAGE RUN_DIR TOKEN
check_app_images() {
  local from=$1 run_dir=$2 token=$3 app=localhost/tokenwell-app:check
  local ctx actr out rc
  ctx=$(mktemp -d)
  printf '%s\n' "FROM $from AS tokenwell" "FROM docker.io/library/debian:bookworm-slim" \
    "COPY --from=tokenwell /usr/local/bin/tokenwell /usr/local/bin/" \
    "COPY --from=tokenwell /usr/local/lib/libtokenwell.so.0* /usr/local/lib/" \
    "RUN ldconfig" >"$ctx/Containerfile"
  podman build --isolation=chroot --pull=never -q -t "$app" -f "$ctx/Containerfile" "$ctx" >/dev/null \
    || fail "app image build"
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
  [[ $rc == 0 ]] || fail "app image: the CLI does not start or read the segment: $out"
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
check_binding_images() {
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
      || fail "$kind app image build"
  done
  rm -rf "$ctx"
  actr=$(buildah from --pull=never localhost/tokenwell-app-python:check)
  out=$(buildah run --isolation=chroot -v "$run_dir:/run/tokenwell" "$actr" -- python3 -c \
    'import tokenwell; print(tokenwell.Client().get("redis").token)' 2>&1) || true
  buildah rm "$actr" >/dev/null
  [[ $out == "$token" ]] || fail "python app image read: $out"
  actr=$(buildah from --pull=never localhost/tokenwell-app-node:check)
  out=$(buildah run --isolation=chroot -v "$run_dir:/run/tokenwell" "$actr" -- node -e \
    'console.log(require("/opt/tokenwell-node").getCredential("redis").token)' 2>&1) || true
  buildah rm "$actr" >/dev/null
  [[ $out == "$token" ]] || fail "node app image read: $out"
  echo "app images: Python (libtokenwell + the binding) and Node (the binding alone) read the token"
}

if [[ ${1:-} == --app-images ]]; then
  shift
  check_app_images "$@"
  check_binding_images "$@"
  exit 0
fi

step "podman build --isolation=chroot (build stage runs the unit tests)"
start=$(date +%s)
podman build --isolation=chroot --pull=never \
  --build-arg REVISION="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  -t "$image" "$root"
echo "build time: $(( $(date +%s) - start ))s"
podman image inspect "$image" --format 'image size: {{.Size}} bytes, user {{.Config.User}}, entrypoint {{.Config.Entrypoint}}'
labels=$(podman image inspect "$image" --format '{{json .Labels}}')
grep -q '"org.opencontainers.image.title":"tokenwell"' <<<"$labels" || fail "OCI title label missing: $labels"
[[ $(podman image inspect "$image" --format '{{.Config.User}}') == 65532:65532 ]] || fail "image does not run as 65532"

step "the image's agent: --check-config on the chart's default rendered config"
work=$(mktemp -d)
trap 'buildah rm "${ctr:-}" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
helm=$(scripts/helm-check.sh --print-helm)
"$helm" template check helm/tokenwell --show-only templates/configmap.yaml >"$work/configmap.yaml"
node scripts/helm-check/config-from-configmap.mjs "$work/configmap.yaml" >"$work/agent.json"
echo "rendered config: $(cat "$work/agent.json")"
# What the Azure Workload Identity webhook would inject into the pod.
echo "federated-token-from-the-kubelet" >"$work/azure-identity-token"
printf 's3cret-from-a-mounted-file\n' >"$work/redis-password"
cat >"$work/file-source.json" <<'EOF'
{"runtime_dir": "/check/run", "log": {"level": "info", "format": "json"},
 "credentials": [{"name": "redis", "source": "file", "path": "/check/redis-password",
                  "username": "app"}]}
EOF
mkdir -p "$work/run"
chown -R 65532:65532 "$work"

ctr=$(buildah from --pull=never "$image")
run() {  # run CMD… in the image as its own user, with $work at /check
  buildah run --isolation=chroot --user 65532:65532 -v "$work:/check" \
    --env AZURE_TENANT_ID=00000000-0000-0000-0000-000000000001 \
    --env AZURE_CLIENT_ID=00000000-0000-0000-0000-000000000002 \
    --env AZURE_FEDERATED_TOKEN_FILE=/check/azure-identity-token \
    --env AZURE_AUTHORITY_HOST=https://login.microsoftonline.com/ \
    "$ctr" -- "$@"
}
run /usr/local/bin/tokenwell-agent --config /check/agent.json --check-config \
  || fail "--check-config rejected the chart's default config"
# A broken config must fail, naming the JSON path.
echo '{"credentials":[{"name":"bad name!","source":"file","path":"/x"}]}' >"$work/bad.json"
if run /usr/local/bin/tokenwell-agent --config /check/bad.json --check-config 2>"$work/bad.err"; then
  fail "--check-config accepted a bad name"
fi
grep -q 'credentials\[0\].name' "$work/bad.err" || fail "no JSON path in: $(cat "$work/bad.err")"

step "the image's agent --once (file source) and the image's CLI reading the segment"
run /usr/local/bin/tokenwell-agent --config /check/file-source.json --once \
  || fail "agent --once failed"
got=$(run /usr/local/bin/tokenwell --dir /check/run get redis --field token)
[[ $got == s3cret-from-a-mounted-file ]] || fail "CLI read '$got'"
user=$(run /usr/local/bin/tokenwell --dir /check/run get redis --field username)
[[ $user == app ]] || fail "CLI read username '$user'"
run /usr/local/bin/tokenwell --dir /check/run list
# The pod's sharing, as the chart sets it up: the emptyDir is group-owned by
# the pod's fsGroup (2000) with the setgid bit, the agent (65532) gets 2000 as
# a supplementary group, the app runs as 1000:2000. The segment (0640) is then
# readable by the app and by nobody outside the group.
mkdir -p "$work/shared"
chmod 0755 "$work"  # /check is the pod's filesystem: every container can traverse it
chown 65532:2000 "$work/shared"
chmod 2775 "$work/shared"
sed 's|/check/run|/check/shared|' "$work/file-source.json" >"$work/shared-source.json"
as() {  # as UID GID GROUPS CMD…: root in the image drops to the pod's ids (setpriv, util-linux)
  local uid=$1 gid=$2 groups=(--clear-groups)
  [[ -n $3 ]] && groups=(--groups "$3")
  shift 3
  buildah run --isolation=chroot --user 0:0 -v "$work:/check" "$ctr" -- \
    setpriv --reuid "$uid" --regid "$gid" "${groups[@]}" "$@"
}
as 65532 65532 2000 /usr/local/bin/tokenwell-agent --config /check/shared-source.json --once \
  || fail "agent --once into the fsGroup directory"
[[ $(stat -c %g "$work/shared/segment") == 2000 ]] || fail "segment not group-owned by the fsGroup"
[[ $(as 1000 2000 2000 /usr/local/bin/tokenwell --dir /check/shared get redis --field username) == app ]] \
  || fail "the app (1000:2000) cannot read the segment"
if as 1001 3000 "" /usr/local/bin/tokenwell --dir /check/shared get redis --field username 2>/dev/null; then
  fail "a process outside the fsGroup read the segment"
fi
echo "fsGroup sharing: the app reads the segment, a stranger does not"

step "the app-image recipe (docs/app-images.md)"
check_app_images "$image" "$work/run" s3cret-from-a-mounted-file
check_binding_images "$image" "$work/run" s3cret-from-a-mounted-file

# The library and headers an application image copies.
run sh -c 'ls /usr/local/lib/libtokenwell.so.* /usr/local/include/tokenwell/tokenwell.h \
                 /usr/local/lib/pkgconfig/tokenwell.pc /usr/local/lib/cmake/tokenwell/tokenwellConfig.cmake' \
  || fail "library or headers missing"
echo "image-check: 1 passed, 0 failed"
