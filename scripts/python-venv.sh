#!/usr/bin/env bash
# python-venv.sh -- one pinned virtual environment from PyPI, for the tests and benchmarks.
#
#   scripts/python-venv.sh NAME REQUIREMENTS [PYTHON]   prints the venv's python
#
# Creates build/venv/NAME (in the source tree, shared by every build directory)
# from PYTHON (default: the `python3` first on PATH -- never Debian's python3-*
# packages, which a venv does not see) and installs REQUIREMENTS with
# --require-hashes --no-deps: exact versions, every dependency listed, each
# wheel checked against its sha256. Does nothing when the venv was made from
# the same requirements and interpreter (a stamp file), so CMake can call it on
# every configure. Writes pip's output to build/venv/NAME.log.
set -euo pipefail
if (($# < 2)); then
  echo "usage: python-venv.sh NAME REQUIREMENTS [PYTHON]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
name=$1
requirements=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
python=${3:-python3}
venv=$root/build/venv/$name
log=$root/build/venv/$name.log

# The stamp: what the venv was made from (the requirements' content and the interpreter).
want="$(sha256sum <"$requirements" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0], sys.base_prefix)')"
if [[ -x $venv/bin/python && -f $venv/.tokenwell-stamp && $(cat "$venv/.tokenwell-stamp") == "$want" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

mkdir -p "$root/build/venv"
rm -rf "$venv"
# Without pip in the venv (faster, nothing unpinned in it): the interpreter's own pip
# installs into the venv through --python (pip >= 22.3).
"$python" -m venv --without-pip "$venv"
if ! "$python" -m pip --disable-pip-version-check --no-input --python "$venv/bin/python" install \
    --require-hashes --no-deps --only-binary :all: -r "$requirements" >"$log" 2>&1; then
  cat "$log" >&2
  echo "python-venv.sh: pip could not install $requirements into $venv" >&2
  rm -rf "$venv"
  exit 1
fi
echo "$want" >"$venv/.tokenwell-stamp"
echo "$venv/bin/python"
