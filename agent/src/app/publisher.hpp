// publisher.hpp -- the one path from a runner's new value to the segment
// (internal to the app library): credentials and keysets are announced,
// published, logged and announced to the socket API here, for `run` and
// `--once` alike.
//
//   Publisher publisher(writer, clock);
//   publisher.on_published([&] { socket_api->notify_published(); });
//   publisher.announce("redis", EntryKind::credential);   // "pending" until a value
//   publisher.publish_credential(config, fetched);
//
// A restarted agent takes over the values a previous run published:
// previous_keyset() and previous_credential() read them back, the latter only
// when the entry's config published it (value_origins.hpp).
//
// Lives on the loop's thread (the writer's owner).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/keysets/keyset_runner.hpp"
#include "tokenwell/agent/refresh/entry_runner.hpp"
#include "tokenwell/agent/refresh/source.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"

#include "value_origins.hpp"

namespace tw {

class Publisher {
 public:
  // The values' origins are kept next to the writer's segment.
  Publisher(SegmentWriter& writer, const Clock& clock)
      : writer_(writer), clock_(clock), origins_(writer.path().parent_path() / "segment.origins") {}

  // Called after every publish (the socket API wakes its long-polls).
  void on_published(std::function<void()> callback) { on_published_ = std::move(callback); }

  // A new entry is published as "pending" so readers get "no valid value"
  // (not "unknown name") and can wait for it; an entry adopted from a
  // previous run keeps its value until a fresh one replaces it.
  void announce(const std::string& name, EntryKind kind);
  // A value equal to the published one keeps its generation (segment_writer.hpp).
  bool publish_credential(const CredentialConfig& config, const FetchedCredential& value);
  // The signing key goes into the segment only with config.private_in_segment.
  bool publish_keyset(const KeysetConfig& config, const KeysetValue& value);
  // The entry's slot is freed (a reload removed it).
  void remove(const std::string& name, EntryKind kind);
  // The value a keyset had in the segment (a previous run's), for adoption:
  // its signing key is empty unless that run published it there.
  std::optional<KeysetValue> previous_keyset(const std::string& name) const;
  // The value credential `config` had in the segment before a restart, if
  // this same config published it; `issued_at` is when it was published.
  // Never for a file source: it reads its file again.
  std::optional<FetchedCredential> previous_credential(const CredentialConfig& config);
  // Wakes the socket API's long-polls without a publish (after a reload).
  void notify() const {
    if (on_published_) on_published_();
  }

 private:
  SegmentWriter& writer_;
  const Clock& clock_;
  ValueOrigins origins_;
  std::function<void()> on_published_;
};

}  // namespace tw
