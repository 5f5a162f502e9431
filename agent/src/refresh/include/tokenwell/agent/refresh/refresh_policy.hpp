// refresh_policy.hpp -- when to refresh a token and how long to back off.
// Pure functions of their inputs (times, settings and random samples), so
// every timing rule of DESIGN.md is unit-tested without a clock or a sleep.
//
//   auto at = next_refresh_time(settings, issued, expires, refresh_in, rng.uniform(-1, 1));
//   auto wait = retry_delay(settings, failures, retry_after, rng.uniform(0, 1), value_left);
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

// How long to wait after the `failures`-th consecutive failure (1 = first):
// exponential backoff with full jitter between retry_min and
// min(cap, retry_min * 2^(failures-1)) (unit_sample uniform in [0, 1]), where
// the cap is retry_max while a valid value is left and retry_max_expired when
// none is. A server's Retry-After (at most retry_after_max) is waited first
// and the jittered backoff after it, so a fleet told the same Retry-After
// does not come back at the same instant.
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
