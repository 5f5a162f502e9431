// segment_writer.hpp -- the agent's side of the shared-memory segment.
//
// One SegmentWriter per runtime directory: it holds an exclusive flock on
// `segment.lock`, maps `segment` read-write and publishes values into it with
// the seqlock latch protocol that libtokenwell reads (docs/segment-format.md).
//
//   auto w = SegmentWriter::open("/run/tokenwell", {.slot_count = 8}, clock);
//   if (!w) return fail(w.error());
//   auto gen = (*w)->publish("redis", {.kind = SlotKind::credential,
//                                      .username = oid, .secret = token,
//                                      .expires_at = exp});
//
// Files: the runtime directory is checked first (runtime_dir.hpp); the lock
// and the segment are opened without following symlinks and must be the
// agent's own; a new segment is written under an unpredictable temporary
// name created with O_EXCL, given its group and mode (SegmentAccess) before
// anything is written, then renamed over `segment`. Every one of these
// calls is checked.
//
// Restart adoption: open() over an existing compatible file keeps every slot
// as it is (values stay readable, generations continue). Publishing a value
// byte-identical to the one a slot holds writes nothing and keeps its
// generation, so readers do not act on a value they already have (a restarted
// agent re-reading an unchanged file). A value that does not fit, or more
// entries than slots, make publish() write a bigger file and rename it over
// the old one; readers notice the flag and remap.
//
// Not thread-safe: one thread (the agent's event loop) owns the writer.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/common/entry_name.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"
#include "tokenwell/agent/segment/runtime_dir.hpp"

namespace tw {

enum class SlotKind : std::uint32_t { credential = 1, keyset = 2 };

struct SegmentLayout {
  std::uint32_t slot_count = 16;
  std::uint32_t data_capacity = 16 * 1024;  // bytes of data per copy
};

// Who may read the segment file, besides its owner (the agent): the config's
// `allow` as file permissions (config/access.hpp). Readers map it read-only,
// so the mode never grants write to anyone but the owner.
struct SegmentAccess {
  std::optional<gid_t> group;  // the file's group; nullopt: whatever it is created with
  mode_t mode = 0640;          // 0640 (owner + group) or 0600 (owner only)
};

struct SegmentOptions {
  SegmentAccess access;
  RuntimeDirPolicy runtime_dir;
};

// A value to publish. `secret` is copied into shared memory and nowhere else.
struct SlotValue {
  SlotKind kind = SlotKind::credential;
  std::string_view username;
  std::string_view secret;
  std::string_view public_data;  // keysets: the public JWKS
  std::int64_t expires_at = 0;   // unix seconds; 0 = does not expire
  bool has_value = true;         // false: a known entry with no value yet
};

// What a slot holds, without the secret (for adoption and `list`).
struct SlotInfo {
  std::string name;
  SlotKind kind = SlotKind::credential;
  std::string username;
  std::int64_t expires_at = 0;
  std::uint64_t generation = 0;
  std::int64_t updated_ms = 0;  // when this value was published, unix ms
  bool has_value = false;
};

// A keyset entry as published: its public JWKS and its private signing key
// (empty for verify-only keysets).
struct StoredKeyset {
  std::string jwks;
  Secret signing_key;
};

// A credential entry as published (a previous run's, after adoption).
struct StoredCredential {
  std::string username;
  Secret token;
  std::int64_t expires_at = 0;
  std::int64_t updated_ms = 0;
  std::uint64_t generation = 0;
};

// Points in a publish where a test may stop the writer (to kill it there).
enum class WritePhase {
  first_copy_half_written,   // sequence odd, copy 0 half overwritten
  second_copy_half_written,  // sequence even, copy 1 half overwritten
};

class SegmentWriter {
 public:
  using WriteHook = std::function<void(WritePhase)>;

  // Checks (and creates) the runtime directory, takes the writer lock and
  // adopts or creates `dir/segment` with at least `layout`, with
  // `options.access`. Fails when another live agent holds the lock, or when
  // a file there is not the agent's own.
  static Result<std::unique_ptr<SegmentWriter>> open(const std::filesystem::path& dir,
                                                     SegmentLayout layout, const Clock& clock,
                                                     SegmentOptions options = {});
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Publishes a new value for `name` (creating its slot), wakes waiters and
  // returns the new generation. Grows the segment when needed. A value equal
  // to the slot's current one (kind, flags, expiry, every field) changes
  // nothing: its generation is returned and nobody is woken.
  Result<std::uint64_t> publish(std::string_view name, const SlotValue& value);

  // Frees the slot of `name` (readers get "unknown name"). No-op if absent.
  Result<void> remove(std::string_view name);

  // Rewrites the segment with `layout` (grown to fit every current entry) in
  // a new file renamed over the old one; readers remap. For config reloads.
  Result<void> resize(SegmentLayout layout);

  // Gives the segment file (and every later one) this group and mode; for a
  // reload that changed `allow`. Readers that mapped it before keep their
  // mapping: permissions are checked at open.
  Result<void> set_access(SegmentAccess access);

  // Refreshes the header heartbeat with the clock's time.
  void heartbeat();

  // Every occupied slot, without secrets.
  std::vector<SlotInfo> entries() const;
  std::optional<SlotInfo> entry(std::string_view name) const;
  // The keyset `name` as the segment holds it (a previous run's, after
  // adoption), or nullopt when it is not a keyset with a value.
  std::optional<StoredKeyset> keyset(std::string_view name) const;
  // The credential `name` with its value, or nullopt when it is not a
  // credential with a value.
  std::optional<StoredCredential> credential(std::string_view name) const;

  SegmentLayout layout() const;
  const std::filesystem::path& path() const;

  // Test hook called at the WritePhase points of every publish.
  void set_write_hook(WriteHook hook);

 private:
  struct Impl;
  explicit SegmentWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tw
