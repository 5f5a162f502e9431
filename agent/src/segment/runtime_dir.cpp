// runtime_dir.cpp -- see runtime_dir.hpp.
#include "tokenwell/agent/segment/runtime_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tw {
namespace {

namespace fs = std::filesystem;

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// What is wrong with one directory on the path, or "" when nothing is.
std::string problem_of(const fs::path& dir, const struct stat& st, bool may_be_open_to_others) {
  if (!S_ISDIR(st.st_mode)) return dir.string() + " is not a directory";
  const uid_t self = ::geteuid();
  if (st.st_uid != 0 && st.st_uid != self)
    return dir.string() + " is owned by uid " + std::to_string(st.st_uid) +
           ", neither root nor the agent (uid " + std::to_string(self) +
           "): its owner could replace the segment or the socket";
  if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX) && !may_be_open_to_others)
    return dir.string() + " is writable by every user (mode " + octal(st.st_mode) +
           ") and has no sticky bit: another user could replace the segment or the socket. "
           "Remove the write bit for others (chmod o-w) or add the sticky bit (chmod +t); "
           "or, when every other container mounts it read-only (a Kubernetes emptyDir), set "
           "\"runtime_dir_read_only_for_others\": true";
  return {};
}

// The directory itself and each one above it, up to "/". `first` is the one
// the exception for runtime_dir_read_only_for_others applies to, if any.
Result<void> check_chain(const fs::path& start, const fs::path* runtime_dir, RuntimeDirPolicy policy) {
  std::error_code ec;
  const fs::path real = fs::canonical(start, ec);
  if (ec) return make_error("runtime_dir: cannot resolve " + start.string() + ": " + ec.message());
  for (fs::path p = real;; p = p.parent_path()) {
    struct stat st{};
    if (::stat(p.c_str(), &st) != 0)
      return make_error("runtime_dir: cannot stat " + p.string() + ": " + std::strerror(errno));
    const bool is_runtime_dir = runtime_dir != nullptr && p == *runtime_dir;
    if (auto why = problem_of(p, st, is_runtime_dir && policy.read_only_for_others); !why.empty())
      return make_error("runtime_dir: " + why);
    if (p == p.root_path()) break;
  }
  return {};
}

}  // namespace

Result<void> check_runtime_dir(const fs::path& dir, RuntimeDirPolicy policy) {
  if (!dir.is_absolute()) return make_error("runtime_dir: must be an absolute path");
  // The nearest part of the path that exists decides: the rest is the agent's to create.
  fs::path existing = dir.lexically_normal();
  std::error_code ec;
  while (!fs::exists(existing, ec) && existing != existing.root_path()) existing = existing.parent_path();
  const fs::path real_dir = fs::weakly_canonical(dir, ec);
  return check_chain(existing, &real_dir, policy);
}

Result<void> prepare_runtime_dir(const fs::path& dir, RuntimeDirPolicy policy) {
  if (auto r = check_runtime_dir(dir, policy); !r) return r;
  // Create from the top down with mode 0755: readers need to traverse it; no
  // one else may write.
  fs::path partial;
  for (const auto& part : dir.lexically_normal()) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0755) == 0) {
      if (::chmod(partial.c_str(), 0755) != 0)  // the umask must not narrow or widen it
        return make_error("runtime_dir: cannot chmod " + partial.string() + ": " + std::strerror(errno));
    } else if (errno != EEXIST) {
      return make_error("runtime_dir: cannot create " + partial.string() + ": " + std::strerror(errno));
    }
  }
  return check_runtime_dir(dir, policy);
}

}  // namespace tw
