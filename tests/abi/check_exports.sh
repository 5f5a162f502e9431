#!/bin/sh
# Fails unless the library exports exactly the functions its public headers
# declare with TOKENWELL_API: nothing internal leaks out (C++, OpenSSL, tw_*),
# and no declared function is missing from the version script.
#   check_exports.sh LIB HEADER...
lib=$1
shift
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBRW]/ {print $3}' | sed 's/@.*//' \
  | grep -v '^TOKENWELL_\(JWT_\)\?0$' | sort -u)
[ -n "$syms" ] || { echo "no exported symbols in $lib"; exit 1; }
declared=$(cat "$@" | tr '\n' ' ' | grep -oE 'TOKENWELL_API[^;(]*\(' \
  | grep -oE 'tokenwell_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u)
[ -n "$declared" ] || { echo "no TOKENWELL_API functions in $*"; exit 1; }
extra=$(printf '%s\n' "$syms" | grep -vxF "$declared" || true)
missing=$(printf '%s\n' "$declared" | grep -vxF "$syms" || true)
[ -z "$extra" ] || { echo "exported but not declared in the headers:"; echo "$extra"; }
[ -z "$missing" ] || { echo "declared but not exported:"; echo "$missing"; }
[ -z "$extra$missing" ] || exit 1
echo "exports: the $(printf '%s\n' "$syms" | wc -l) functions the headers declare, nothing else"
