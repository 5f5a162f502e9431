// access.hpp -- `allow`, the one access model (docs/security.md): the
// processes allowed to read credentials are the same on the socket
// (SO_PEERCRED) and in the segment (file permissions), because `allow` is
// held to what a file's permissions can say:
//
//   - the segment's owner is the agent: its uid is always allowed, and
//     `allow.uids` may name no other (a file has one owner);
//   - `allow.gids` names at most one group, which the agent gives the
//     segment (mode 0640); with none, the segment is owner-only (0600);
//   - the agent must be able to give the file that group: a member of it
//     (gid or supplementary group), or allowed to chown (CAP_CHOWN).
//
// A caller is then allowed when its uid is the agent's or the group is its
// gid or one of its supplementary groups -- exactly who the kernel lets read
// the file (root aside: CAP_DAC_OVERRIDE reads any file).
//
//   auto self = ProcessIdentity::current();
//   if (auto r = check_allow(config.allow, self); !r) errors.push_back(r.error().message);
//   SegmentPermissions p = segment_permissions(config.allow);   // group 2000, mode 0640
//
// Thread-compatible free functions.
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

#include "tokenwell/agent/common/result.hpp"

namespace tw {

struct AllowConfig;

// Who the agent runs as: what decides which group it can give a file.
struct ProcessIdentity {
  uid_t uid = 0;               // effective uid: the owner of what it creates
  gid_t gid = 0;               // effective gid
  std::vector<gid_t> groups;   // supplementary groups
  bool can_chown = false;      // CAP_CHOWN: any group

  static ProcessIdentity current();
};

// Why `allow` cannot be expressed by file permissions for an agent running
// as `self`, naming its JSON path ("allow.uids[0]: ..."), or ok.
Result<void> check_allow(const AllowConfig& allow, const ProcessIdentity& self);

// The segment file's group and mode under a checked `allow`.
struct SegmentPermissions {
  std::optional<gid_t> group;  // nullopt: no group reads it
  mode_t mode = 0600;
};
SegmentPermissions segment_permissions(const AllowConfig& allow);

}  // namespace tw
