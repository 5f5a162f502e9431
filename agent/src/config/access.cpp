// access.cpp -- see access.hpp.
#include "tokenwell/agent/config/access.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "tokenwell/agent/config/config.hpp"

namespace tw {
namespace {

bool has_cap_chown() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[0].effective & (1u << CAP_CHOWN)) != 0;
}

}  // namespace

ProcessIdentity ProcessIdentity::current() {
  ProcessIdentity self;
  self.uid = ::geteuid();
  self.gid = ::getegid();
  const int n = ::getgroups(0, nullptr);
  if (n > 0) {
    self.groups.resize(static_cast<std::size_t>(n));
    const int got = ::getgroups(n, self.groups.data());
    self.groups.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  }
  self.can_chown = has_cap_chown();
  return self;
}

Result<void> check_allow(const AllowConfig& allow, const ProcessIdentity& self) {
  const std::string own = "uid " + std::to_string(self.uid);
  for (std::size_t i = 0; i < allow.uids.size(); ++i) {
    if (allow.uids[i] == self.uid) continue;
    return make_error("allow.uids[" + std::to_string(i) + "]: uid " + std::to_string(allow.uids[i]) +
                      " is not the agent's own (" + own +
                      "): the segment file has one owner, the agent, so another user can read it only "
                      "through the file's group, and the socket allows exactly who can read the file. "
                      "Put a group that user's processes have in allow.gids instead (in Kubernetes, the "
                      "pod's fsGroup, which every container gets)");
  }
  if (allow.gids.size() > 1)
    return make_error("allow.gids[1]: the segment file has one group, so allow.gids lists at most one gid (got " +
                      std::to_string(allow.gids.size()) +
                      "); give the processes that read credentials one common group (in Kubernetes, the "
                      "pod's fsGroup)");
  if (allow.gids.size() == 1) {
    const gid_t g = allow.gids[0];
    const bool member =
        g == self.gid || std::find(self.groups.begin(), self.groups.end(), g) != self.groups.end();
    if (!member && !self.can_chown)
      return make_error("allow.gids[0]: the agent (" + own + ", gid " + std::to_string(self.gid) +
                        ") is not a member of group " + std::to_string(g) +
                        ", so it cannot give the segment that group; run it with that group as its gid "
                        "or a supplementary group (in Kubernetes: the pod's fsGroup or supplementalGroups)");
  }
  return {};
}

SegmentPermissions segment_permissions(const AllowConfig& allow) {
  if (allow.gids.empty()) return {std::nullopt, 0600};
  return {allow.gids.front(), 0640};
}

}  // namespace tw
