// runtime_dir.hpp -- the runtime directory the segment, its lock and the
// socket live in, checked before the agent writes a byte there.
//
// Whoever may rename or delete entries in that directory can replace the
// segment (readers would take tokens and keys from a file of theirs) or the
// socket. So the directory and every directory above it must be owned by
// root or by the agent, and not writable by other users unless it has the
// sticky bit (then only an entry's owner may remove or rename it, as in
// /tmp). A Kubernetes emptyDir is mode 0777 (2777 with an fsGroup), owned by
// root, and the agent cannot change that; it is safe when every other
// container mounts it read-only, which the config says with
// `"runtime_dir_read_only_for_others": true` (the chart sets it).
//
//   if (auto r = prepare_runtime_dir("/run/tokenwell", {}); !r) return fail(r.error());
//
// Thread-compatible free functions.
#pragma once

#include <filesystem>
#include <string>

#include "tokenwell/agent/common/result.hpp"

namespace tw {

struct RuntimeDirPolicy {
  // The config's runtime_dir_read_only_for_others: the runtime directory
  // itself (not the ones above it) may be writable by others without the
  // sticky bit, because no one else has it mounted writable.
  bool read_only_for_others = false;
};

// The problem with `dir` as a runtime directory, if any. A directory that
// does not exist yet is checked through its nearest existing ancestor (the
// agent creates the rest, mode 0755). For --check-config and for start.
Result<void> check_runtime_dir(const std::filesystem::path& dir, RuntimeDirPolicy policy);

// check_runtime_dir, then creates `dir` (and missing parents) mode 0755
// whatever the umask, and checks again what it made.
Result<void> prepare_runtime_dir(const std::filesystem::path& dir, RuntimeDirPolicy policy);

}  // namespace tw
