#!/usr/bin/env bash
# The app-image recipe of docs/app-images.md, without an image: from an
# install of the project (what the tokenwell image holds under /usr/local),
# copy only bin/tokenwell and lib/libtokenwell.so.0* -- what an app image
# copies -- and check that this CLI starts and reads a segment the agent
# wrote, and that `jwt sign` says what to copy. Then the full install's
# `jwt sign`, which dlopens libtokenwell-jwt through the CLI's RUNPATH.
#   app_image_test.sh BUILD_DIR AGENT
set -euo pipefail
build=$1 agent=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "app_image_test: FAILED: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/usr/local" >/dev/null
lib=$work/usr/local/lib
[[ -d $work/usr/local/lib64 ]] && lib=$work/usr/local/lib64

# The CLI links nothing a bookworm-slim base lacks.
needed=$(readelf -d "$work/usr/local/bin/tokenwell" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
[[ $needed == "libc.so.6 libgcc_s.so.1 libm.so.6 libstdc++.so.6 libtokenwell.so.0 " ]] \
  || fail "the CLI links: $needed"

# The app image: the CLI and libtokenwell only.
app=$work/app
mkdir -p "$app/bin" "$app/lib"
cp -a "$work/usr/local/bin/tokenwell" "$app/bin/"
cp -a "$lib"/libtokenwell.so.0* "$app/lib/"
[[ -z $(ls "$app/lib" | grep -v '^libtokenwell\.so\.0') ]] || fail "copied more than libtokenwell"
"$app/bin/tokenwell" --version | grep -q '^tokenwell ' || fail "--version"

printf 's3cret-from-a-file\n' >"$work/password"
cat >"$work/agent.json" <<JSON
{"runtime_dir": "$work/run", "listen": "", "log": {"level": "warn"},
 "credentials": [{"name": "redis", "source": "file", "path": "$work/password", "username": "app"}]}
JSON
mkdir -p "$work/run"
"$agent" --config "$work/agent.json" --once
[[ $("$app/bin/tokenwell" --dir "$work/run" get redis --field token) == s3cret-from-a-file ]] || fail "get"
"$app/bin/tokenwell" --dir "$work/run" list | grep -q redis || fail "list"
"$app/bin/tokenwell" --dir "$work/run" wait redis --after 0 --timeout 5 >/dev/null || fail "wait"
[[ $("$app/bin/tokenwell" --dir "$work/run" exec redis -- sh -c 'printf %s "$TOKENWELL_TOKEN"') \
   == s3cret-from-a-file ]] || fail "exec"

# jwt sign without libtokenwell-jwt: exit 5 and what to copy.
set +e
"$app/bin/tokenwell" --dir "$work/run" jwt sign sessions --claims '{"sub":"a"}' 2>"$work/err"
rc=$?
set -e
[[ $rc == 5 ]] || fail "jwt sign without the library exited $rc: $(cat "$work/err")"
grep -q 'jwt sign needs libtokenwell-jwt.so.0' "$work/err" || fail "message: $(cat "$work/err")"
grep -q 'libtokenwell-jwt.so.0\*' "$work/err" || fail "message names no file to copy: $(cat "$work/err")"

# With the whole install, the library is found ($ORIGIN/../lib): the error is
# about the keyset, not the library.
set +e
"$work/usr/local/bin/tokenwell" --dir "$work/run" jwt sign sessions --claims '{"sub":"a"}' 2>"$work/err"
rc=$?
set -e
[[ $rc == 3 ]] || fail "installed jwt sign exited $rc: $(cat "$work/err")"
grep -q 'no keyset named' "$work/err" || fail "installed jwt sign: $(cat "$work/err")"
echo "app_image_test: passed"
