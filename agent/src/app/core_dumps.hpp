// core_dumps.hpp -- keeping the agent's memory (tokens, client secrets,
// private keys) out of core files.
//
//   const CoreDumpState state = disable_core_dumps();   // at start, before any secret
//   log::info("core dumps", {{"dumpable", state.dumpable}, ...});
//
// The process is made non-dumpable (prctl PR_SET_DUMPABLE 0: no core file,
// no ptrace or /proc/PID/mem by other processes of the same uid) and its
// RLIMIT_CORE is set to 0, soft and hard. `tokenwell-agent --allow-core-dumps`
// skips this for debugging; Secrets and the segment mapping are still
// MADV_DONTDUMP either way.
#pragma once

#include <cstdint>
#include <string>

namespace tw {

// What the kernel reports after the change (read back, not assumed).
struct CoreDumpState {
  bool dumpable = true;                // prctl(PR_GET_DUMPABLE)
  std::uint64_t core_limit_soft = 0;   // RLIMIT_CORE, RLIM_INFINITY as UINT64_MAX
  std::string error;                   // why a call failed, empty if none did
};

CoreDumpState disable_core_dumps();
CoreDumpState current_core_dump_state();

}  // namespace tw
