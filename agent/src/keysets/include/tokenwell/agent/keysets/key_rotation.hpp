// key_rotation.hpp -- the schedule of a `generated` keyset, apart from any
// event loop: SPIRE's prepare / activate / retire discipline on an injected
// time, so tests drive it through many rotations on simulated time.
//
//   KeyRotation rotation(config, generate_jwk);
//   rotation.adopt(previous_jwks, previous_signing_key, clock.now());  // after a restart
//   auto step = rotation.advance(clock.now());
//   if (step->changed) publish(rotation.public_jwks(), rotation.signing_key());
//   schedule(step->next);
//
// The life of a key:
//   prepared   published (public) `publish_ahead` before it activates, so
//              every verifier has it before the first token it signs;
//   active     the signing key, for `rotate_every`;
//   retired    its successor signs; still published for `retain`, so tokens
//              it signed verify until they expire;
//   removed.
// A kid is "<activation unix seconds>-<thumbprint prefix>", so a restarted
// agent recovers the schedule from the public JWKS it published before: the
// active key keeps signing, retired keys keep their retention. A prepared key
// whose private half was lost with the old process is dropped (nothing was
// signed with it) and a new successor is published ahead again.
// Thread-compatible: owned by the agent's loop.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenwell/agent/keysets/jwk.hpp"
#include "tokenwell/agent/config/keyset_config.hpp"
#include "tokenwell/agent/refresh/refresh_policy.hpp"
#include "tokenwell/agent/common/result.hpp"

namespace tw {

class KeyRotation {
 public:
  using KeyFactory = std::function<Result<Jwk>(KeyAlgorithm)>;

  struct Step {
    bool changed = false;  // public_jwks() or signing_key() differ from the last step
    TimePoint next;        // when to call advance() again
  };

  struct Key {
    Jwk key;
    TimePoint activates_at;
    std::optional<TimePoint> retires_at;  // set once its successor is prepared
  };

  KeyRotation(GeneratedKeysetConfig config, KeyFactory factory);

  // Takes over the keyset a previous agent published (its JWKS and active
  // private JWK). Fails -- and adopts nothing -- when they do not parse or the
  // private key is not in the JWKS; the caller then starts afresh.
  Result<void> adopt(std::string_view jwks, std::string_view signing_key, TimePoint now);

  // Takes over only the public JWKS a previous agent published (its private
  // keys were not in the segment): every key in it is retired at `now` (one
  // that had retired earlier keeps that time) and stays published for
  // `retain`, so tokens it signed verify until they expire; a key prepared
  // for later is dropped (nothing was signed with it). The next advance()
  // makes a new key that signs at once. Fails -- and adopts nothing -- when
  // the JWKS does not parse.
  Result<void> adopt_public(std::string_view jwks, TimePoint now);

  // Prepares, activates and removes keys as due at `now`. Fails only when a
  // new key cannot be generated (retry later; the current keys stay).
  Result<Step> advance(TimePoint now);

  std::string public_jwks() const;
  std::string_view signing_key() const;  // the active key's private JWK, "" before the first advance
  std::string active_kid() const;
  const std::vector<Key>& keys() const { return keys_; }

  // The kid a key activating at `at` gets.
  static std::string make_kid(TimePoint at, const Jwk& key);
  // The activation time a kid names, if it is one of ours.
  static std::optional<TimePoint> kid_activation(std::string_view kid);

 private:
  const Key* active(TimePoint now) const;
  Result<void> prepare(TimePoint activates_at);

  GeneratedKeysetConfig config_;
  KeyFactory factory_;
  std::vector<Key> keys_;  // by activation time
  std::string published_kid_;
  std::string published_jwks_;
};

}  // namespace tw
