#!/bin/sh
# Fails if libtokenwell (or libtokenwell-jwt) exports a defined symbol not
# named tokenwell_*, or lacks one of the required symbols.
#   check_exports.sh LIB [REQUIRED_SYMBOL...]   (default: libtokenwell's)
lib=$1
shift
required=${*:-tokenwell_open tokenwell_close tokenwell_read tokenwell_wait tokenwell_list tokenwell_strerror tokenwell_version tokenwell_version_number tokenwell_read_keyset}
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBRW]/ {print $3}' | sed 's/@.*//')
[ -n "$syms" ] || { echo "no exported symbols in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^tokenwell_' | grep -v "^TOKENWELL_\(JWT_\)\?0$" || true)
if [ -n "$bad" ]; then echo "symbols outside tokenwell_*:"; echo "$bad"; exit 1; fi
echo "exports: $(printf '%s\n' "$syms" | grep -c '^tokenwell_') tokenwell_* symbols, nothing else"
for s in $required; do
  printf '%s\n' "$syms" | grep -qx "$s" || { echo "missing $s"; exit 1; }
done
