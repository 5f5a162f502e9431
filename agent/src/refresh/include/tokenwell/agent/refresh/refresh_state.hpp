// refresh_state.hpp -- the refresh engine's decisions for one credential,
// apart from any event loop: given fetch results and the time, when to fetch
// next and what to publish. The loop that runs it (timers, worker threads)
// stays dumb, and every rule is unit-tested on simulated time.
//
//   RefreshState state(settings, random);
//   auto next = state.start(clock.now());            // first fetch: now
//   // or, after a restart, with the value the previous agent published:
//   auto next = state.adopt(previous, clock.now()).value_or(state.start(clock.now()));
//   ... at `next`, run source.fetch() off the loop, then on the loop:
//   auto step = state.on_result(std::move(result), clock.now());
//   if (step.publish) writer.publish(name, ...state.current()...);
//   schedule(step.next_attempt);
//
// Retries never stop; a failure never drops the last good credential (it is
// served until it expires). Once no valid value is left the backoff is capped
// by retry_max_expired instead of retry_max, a Retry-After never holds the
// next attempt past the moment the value served becomes unusable (its expiry
// minus min_remaining), and the first refresh after a
// start or after failures is spread (spread_refresh_time), so a fleet that
// fetched together does not refresh together. Thread-compatible: owned by
// the loop thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "tokenwell/agent/common/random_source.hpp"
#include "tokenwell/agent/refresh/refresh_policy.hpp"
#include "tokenwell/agent/refresh/source.hpp"

namespace tw {

class RefreshState {
 public:
  struct Step {
    bool publish = false;        // current() holds a new credential to publish
    TimePoint next_attempt;      // when to fetch again
    std::chrono::milliseconds delay{0};  // next_attempt - now, for logs
    // A failure's Retry-After as waited (honour_retry_after), for logs.
    std::optional<HonouredRetryAfter> retry_after;
  };

  RefreshState(RefreshSettings settings, RandomSource& random);

  // The first fetch happens at once.
  TimePoint start(TimePoint now);

  // Takes over a value a previous agent published (a restart): it becomes
  // current() and is refreshed when its issue and expiry times say, as if
  // this state had fetched it (`issued_at` is when it was published; an
  // IdP's refresh_in is not kept across a restart). Returns that time -- now
  // when it is inside min_remaining -- or nullopt, adopting nothing, for a
  // value that never expires, has expired or has no lifetime.
  std::optional<TimePoint> adopt(FetchedCredential value, TimePoint now);

  // Feeds one fetch result. A credential that is already expired or whose
  // lifetime is not positive is treated as a failure (never published).
  Step on_result(FetchResult<FetchedCredential> result, TimePoint now);

  // The last good credential, if any (it may have expired since).
  const std::optional<FetchedCredential>& current() const { return current_; }
  bool has_valid(TimePoint now) const;
  // A valid value with more than min_remaining left (min_remaining counts only
  // when shorter than the lifetime, as in next_refresh_time).
  bool has_value_left(TimePoint now) const;
  unsigned consecutive_failures() const { return failures_; }
  const std::optional<FetchError>& last_error() const { return last_error_; }

 private:
  Step fail(FetchError error, TimePoint now);
  // current()'s expiry minus min_remaining (when shorter than its lifetime);
  // only for a value that expires.
  TimePoint usable_until() const;

  RefreshSettings settings_;
  RandomSource& random_;
  std::optional<FetchedCredential> current_;
  std::optional<FetchError> last_error_;
  unsigned failures_ = 0;
};

}  // namespace tw
