#!/bin/sh
# Each public header owns one range of return codes (tokenwell.h "Return
# codes"): tokenwell.h 0-99, jwt.h 100-199, hiredis.h 200-299. Fails when a
# code of one header is outside its range or two codes share a number.
#   check_code_ranges.sh INCLUDE_DIR
set -eu
dir=$1/tokenwell
codes() {  # HEADER PREFIX: "NAME VALUE" of every TOKENWELL_<PREFIX>E* code (and TOKENWELL_OK)
  grep -oE "TOKENWELL_$2(E[A-Z_]+|OK) = [0-9]+" "$dir/$1" | sed 's/ = / /'
}
fail=0
check() {  # HEADER PREFIX LOW HIGH
  n=0
  while read -r name value; do
    n=$((n + 1))
    if [ "$value" -lt "$3" ] || [ "$value" -gt "$4" ]; then
      echo "$1: $name = $value is outside $3-$4"; fail=1
    fi
  done <<EOT
$(codes "$1" "$2")
EOT
  [ "$n" -gt 1 ] || { echo "$1: no codes found"; fail=1; }
  echo "$1: $n codes in $3-$4"
}
check tokenwell.h "" 0 99
check jwt.h JWT_ 100 199
check hiredis.h HIREDIS_ 200 299
dups=$( (codes tokenwell.h ""; codes jwt.h JWT_; codes hiredis.h HIREDIS_) | awk '{print $2}' | sort | uniq -d)
[ -z "$dups" ] || { echo "codes used twice: $dups"; fail=1; }
exit $fail
