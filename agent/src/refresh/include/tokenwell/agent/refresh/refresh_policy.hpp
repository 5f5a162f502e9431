// refresh_policy.hpp -- when to refresh a token and how long to back off.
// Pure functions of their inputs (times, settings and random samples), so
// every timing rule of DESIGN.md is unit-tested without a clock or a sleep.
//
//   auto at = next_refresh_time(settings, issued, expires, refresh_in, rng.uniform(-1, 1));
//   auto wait = retry_delay(settings, failures, retry_after, rng.uniform(0, 1), value_left);
//   // or, keeping a Retry-After from holding an attempt past `usable_for`:
//   auto backoff = backoff_delay(settings, failures, rng.uniform(0, 1), value_left);
//   auto wait = backoff + honour_retry_after(settings, retry_after, usable_for - backoff).wait;
//
// Thread-compatible (free functions and a plain struct).
#pragma once

#include <chrono>
#include <optional>

#include "tokenwell/agent/config/refresh_settings.hpp"

namespace tw {

using TimePoint = std::chrono::system_clock::time_point;

// When to refresh a token valid from `issued` to `expires`:
//   issued + ratio * lifetime, but no later than expires - min_remaining
//   (ignored when min_remaining is not shorter than the lifetime), earlier if
//   the IdP's refresh_in says so, then moved by jitter_sample * jitter *
//   lifetime (jitter_sample uniform in [-1, 1]) so a fleet spreads out.
// The result always lies strictly inside (issued, expires).
TimePoint next_refresh_time(const RefreshSettings& s, TimePoint issued, TimePoint expires,
                            std::optional<std::chrono::seconds> refresh_in,
                            double jitter_sample);

// The backoff after the `failures`-th consecutive failure (1 = first):
// exponential with full jitter between retry_min and
// min(cap, retry_min * 2^(failures-1)) (unit_sample uniform in [0, 1]), where
// the cap is retry_max while a valid value is left and retry_max_expired when
// none is.
std::chrono::milliseconds backoff_delay(const RefreshSettings& s, unsigned failures, double unit_sample,
                                        bool value_left = true);

// How much of a server's Retry-After is waited, and what shortened it.
struct HonouredRetryAfter {
  enum class Limit {
    none,             // waited as asked
    retry_after_max,  // cut to refresh.retry_after_max
    value_usable,     // cut so the attempt comes before the value served becomes unusable
  };
  std::chrono::milliseconds wait{0};
  Limit limit = Limit::none;
};

// A server's Retry-After, at most retry_after_max and at most `room` when
// given (never below zero): the refresh engine passes the time the value it
// serves stays usable (until its expiry minus min_remaining) less the
// backoff, so a throttled IdP may still answer before readers lose the value.
HonouredRetryAfter honour_retry_after(const RefreshSettings& s, std::chrono::milliseconds retry_after,
                                      std::optional<std::chrono::milliseconds> room = std::nullopt);

// backoff_delay plus a server's Retry-After (at most retry_after_max) waited
// before it, so a fleet told the same Retry-After does not come back at the
// same instant.
std::chrono::milliseconds retry_delay(const RefreshSettings& s, unsigned failures,
                                      std::optional<std::chrono::seconds> retry_after,
                                      double unit_sample, bool value_left = true);

// Where to refresh a token fetched after a start or after failures: many
// pods may have fetched at that same moment (a rollout, the IdP's return),
// so the point next_refresh_time chose is moved to a uniform point between
// issue and it (unit_sample in [0, 1]); the fleet's refreshes are spread
// from then on instead of coming back as one wave.
TimePoint spread_refresh_time(TimePoint issued, TimePoint at, double unit_sample);

}  // namespace tw
