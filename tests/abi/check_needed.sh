#!/bin/sh
# Fails if libtokenwell links anything but libc (the shim is libc only).
lib=$1
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "NEEDED: $needed"
for n in $needed; do
  case $n in libc.so.*) ;; *) echo "unexpected dependency: $n"; exit 1 ;; esac
done
