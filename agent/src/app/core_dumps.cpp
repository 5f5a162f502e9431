// core_dumps.cpp -- see core_dumps.hpp.
#include "core_dumps.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace tw {

CoreDumpState current_core_dump_state() {
  CoreDumpState state;
  state.dumpable = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0;
  rlimit limit{};
  if (::getrlimit(RLIMIT_CORE, &limit) == 0)
    state.core_limit_soft = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : limit.rlim_cur;
  return state;
}

CoreDumpState disable_core_dumps() {
  std::string error;
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) error = std::string("setrlimit(RLIMIT_CORE): ") + std::strerror(errno);
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    if (!error.empty()) error += "; ";
    error += std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno);
  }
  CoreDumpState state = current_core_dump_state();
  state.error = std::move(error);
  return state;
}

}  // namespace tw
