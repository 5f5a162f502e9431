#!/bin/sh
# Compiles, links and runs the example in the banner comment of each public
# header, exactly as the header shows it (wrapped in a function, with stubs
# for the application's own calls): a banner that no longer compiles fails.
#   header_examples.sh CC CXX INCLUDE_DIR GENERATED_INCLUDE_DIR LIBTOKENWELL LIBTOKENWELL_JWT WORK_DIR
set -eu
cc=$1 cxx=$2 inc=$3 gen=$4 lib=$5 jwtlib=$6 work=$7
mkdir -p "$work"
flags="-Wall -Wextra -Werror -I$inc -I$gen"

# The banner's example: the comment lines indented by three more spaces.
c_example() { awk '/^ \*\//{exit} /^ \*   /{print substr($0, 6)}' "$inc/tokenwell/$1"; }
cpp_example() { awk '/^#/{exit} /^\/\/   /{print substr($0, 6)}' "$inc/tokenwell/$1"; }

check() {  # NAME SOURCE: the source must hold a non-empty example
  if ! grep -q 'EXAMPLE_START' "$2" || [ "$(sed -n '/EXAMPLE_START/,/EXAMPLE_END/p' "$2" | wc -l)" -le 3 ]; then
    echo "no example found in the banner of $1"; exit 1
  fi
}

{
  echo '#include <stdio.h>'
  echo '#include <tokenwell/tokenwell.h>'
  echo 'static void redis_auth(const char *user, const char *token) { (void)user; (void)token; }'
  echo 'static void grow_and_retry(size_t size) { (void)size; }'
  echo 'void example(void) { /* EXAMPLE_START */'
  c_example tokenwell.h
  echo '} /* EXAMPLE_END */'
  echo 'int main(void) { example(); return 0; }'
} >"$work/tokenwell_h.c"
check tokenwell.h "$work/tokenwell_h.c"
"$cc" -std=c11 $flags "$work/tokenwell_h.c" "$lib" -o "$work/tokenwell_h"

{
  echo '#include <stdio.h>'
  echo '#include <tokenwell/jwt.h>'
  echo 'static void hand_out(const char *token) { (void)token; }'
  echo 'void example(const tokenwell *tw, const char *received) { /* EXAMPLE_START */'
  c_example jwt.h
  echo '} /* EXAMPLE_END */'
  echo 'int main(void) { example(NULL, "not-a-token"); return 0; }'
} >"$work/jwt_h.c"
check jwt.h "$work/jwt_h.c"
"$cc" -std=c11 $flags "$work/jwt_h.c" "$jwtlib" "$lib" -o "$work/jwt_h"

{
  echo '#include <stdio.h>'
  echo '#include <tokenwell/hiredis.h>'
  echo 'static void fail(const char *why) { fputs(why, stderr); exit(1); }'
  echo 'void example(const tokenwell *tw) { /* EXAMPLE_START */'
  c_example hiredis.h
  echo '} /* EXAMPLE_END */'
  echo 'int main(void) { return 0; }  /* compiled and linked only: it connects to Redis */'
} >"$work/hiredis_h.c"
check hiredis.h "$work/hiredis_h.c"
# shellcheck disable=SC2046
"$cc" -std=c11 $flags "$work/hiredis_h.c" "$lib" $(pkg-config --cflags --libs hiredis) -o "$work/hiredis_h"

{
  echo '#include <string>'
  echo '#include <tokenwell/tokenwell.hpp>'
  echo 'static int fail(const char*) { return 1; }'
  echo 'static void redis_auth(const std::string&, const std::string&) {}'
  echo 'static void retry_later() {}'
  echo 'int example() { /* EXAMPLE_START */'
  cpp_example tokenwell.hpp
  echo '  return 0;'
  echo '} /* EXAMPLE_END */'
  echo 'int main() { return example() == 1 ? 0 : 0; }'
} >"$work/tokenwell_hpp.cpp"
check tokenwell.hpp "$work/tokenwell_hpp.cpp"
"$cxx" -std=c++17 $flags "$work/tokenwell_hpp.cpp" "$lib" -o "$work/tokenwell_hpp"

# Run what needs no server: with no segment they take their error paths.
export TOKENWELL_DIR="$work/no-segment-here"
LD_LIBRARY_PATH="$(dirname "$lib"):$(dirname "$jwtlib")" "$work/tokenwell_h"
LD_LIBRARY_PATH="$(dirname "$lib"):$(dirname "$jwtlib")" "$work/jwt_h" 2>/dev/null
LD_LIBRARY_PATH="$(dirname "$lib")" "$work/tokenwell_hpp"
echo "header examples: tokenwell.h, jwt.h, hiredis.h, tokenwell.hpp compile, link and run"
