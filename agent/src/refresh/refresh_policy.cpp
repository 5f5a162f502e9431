// refresh_policy.cpp -- see refresh_policy.hpp.
#include "tokenwell/agent/refresh/refresh_policy.hpp"

#include <algorithm>
#include <cmath>

namespace tw {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

TimePoint next_refresh_time(const RefreshSettings& s, TimePoint issued, TimePoint expires,
                            std::optional<std::chrono::seconds> refresh_in,
                            double jitter_sample) {
  const auto lifetime = duration_cast<milliseconds>(expires - issued);
  if (lifetime <= milliseconds(2)) return issued + lifetime / 2;
  auto at = issued + duration_cast<milliseconds>(lifetime * s.ratio);
  if (s.min_remaining < lifetime) at = std::min(at, expires - s.min_remaining);
  if (refresh_in && *refresh_in > std::chrono::seconds(0))
    at = std::min(at, issued + duration_cast<milliseconds>(*refresh_in));
  jitter_sample = std::clamp(jitter_sample, -1.0, 1.0);
  at += duration_cast<milliseconds>(lifetime * (s.jitter * jitter_sample));
  // Strictly inside the validity window: never refresh before the token is
  // issued (a hot loop) nor after it expired (a gap for readers).
  const auto margin = std::max(milliseconds(1), lifetime / 100);
  return std::clamp<TimePoint>(at, issued + margin, expires - margin);
}

milliseconds backoff_delay(const RefreshSettings& s, unsigned failures, double unit_sample, bool value_left) {
  const milliseconds cap = value_left ? s.retry_max : std::min(s.retry_max, s.retry_max_expired);
  const unsigned doublings = failures == 0 ? 0 : std::min(failures - 1, 30u);
  const double ceiling = std::min<double>(static_cast<double>(cap.count()),
                                          static_cast<double>(s.retry_min.count()) *
                                              std::ldexp(1.0, static_cast<int>(doublings)));
  const double floor = static_cast<double>(std::min(s.retry_min, cap).count());
  unit_sample = std::clamp(unit_sample, 0.0, 1.0);
  return milliseconds(static_cast<milliseconds::rep>(floor + (ceiling - floor) * unit_sample));
}

HonouredRetryAfter honour_retry_after(const RefreshSettings& s, milliseconds retry_after,
                                      std::optional<milliseconds> room) {
  HonouredRetryAfter h{retry_after, HonouredRetryAfter::Limit::none};
  if (h.wait > s.retry_after_max) h = {s.retry_after_max, HonouredRetryAfter::Limit::retry_after_max};
  if (room && h.wait > *room) h = {std::max(*room, milliseconds(0)), HonouredRetryAfter::Limit::value_usable};
  return h;
}

milliseconds retry_delay(const RefreshSettings& s, unsigned failures,
                         std::optional<std::chrono::seconds> retry_after, double unit_sample,
                         bool value_left) {
  const milliseconds backoff = backoff_delay(s, failures, unit_sample, value_left);
  return retry_after ? backoff + honour_retry_after(s, *retry_after).wait : backoff;
}

TimePoint spread_refresh_time(TimePoint issued, TimePoint at, double unit_sample) {
  if (at <= issued) return at;
  // At least 1 % of the way: never a refresh right after the fetch.
  unit_sample = std::clamp(unit_sample, 0.01, 1.0);
  return issued + duration_cast<milliseconds>((at - issued) * unit_sample);
}

}  // namespace tw
