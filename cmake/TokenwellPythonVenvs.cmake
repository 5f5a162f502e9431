# The pinned Python virtual environments of the tests (scripts/python-venv.sh,
# requirements in tests/python/requirements/, venvs in build/venv/ of the
# source tree, shared by every build directory). Made at configure time from
# the `python3` first on PATH, never from Debian's python3-* packages:
#   TOKENWELL_PYTHON3           build/venv/test: the stand-ins (cryptography), the
#                               PyJWT interop check (jwt), tests/observability (yaml),
#                               the end-to-end harnesses. Every suite's
#                               find_program(TOKENWELL_PYTHON3 ...) finds it set.
#   TOKENWELL_REDIS_PY_VERSIONS the redis-py lines tested (one venv each,
#                               TOKENWELL_REDIS_PY_<line>, e.g. TOKENWELL_REDIS_PY_8.1).
# A venv is made again only when its requirements file changes.
set(TOKENWELL_REDIS_PY_VERSIONS 5.3 6.4 7.4 8.1)
find_program(TOKENWELL_VENV_BASE_PYTHON python3 REQUIRED)

function(tokenwell_python_venv name out_var)
  set(requirements ${PROJECT_SOURCE_DIR}/tests/python/requirements/${name}.txt)
  set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${requirements})
  execute_process(COMMAND ${PROJECT_SOURCE_DIR}/scripts/python-venv.sh ${name} ${requirements}
                          ${TOKENWELL_VENV_BASE_PYTHON}
                  OUTPUT_VARIABLE python OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "scripts/python-venv.sh ${name} failed (see build/venv/${name}.log)")
  endif()
  set(${out_var} ${python} PARENT_SCOPE)
endfunction()

tokenwell_python_venv(test test_python)
set(TOKENWELL_PYTHON3 ${test_python} CACHE FILEPATH "The test venv's python (build/venv/test)" FORCE)
foreach(version IN LISTS TOKENWELL_REDIS_PY_VERSIONS)
  tokenwell_python_venv(redis-${version} python)
  set(TOKENWELL_REDIS_PY_${version} ${python})
endforeach()
