// refresh_state.cpp -- see refresh_state.hpp.
#include "tokenwell/agent/refresh/refresh_state.hpp"

#include <algorithm>
#include <cstdint>

namespace tw {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {
TimePoint from_unix(std::int64_t s) { return TimePoint(seconds(s)); }
}  // namespace

RefreshState::RefreshState(RefreshSettings settings, RandomSource& random)
    : settings_(settings), random_(random) {}

TimePoint RefreshState::start(TimePoint now) { return now; }

std::optional<TimePoint> RefreshState::adopt(FetchedCredential value, TimePoint now) {
  if (value.expires_at == 0 || value.expires_at <= value.issued_at || from_unix(value.expires_at) <= now)
    return std::nullopt;
  const TimePoint issued = from_unix(value.issued_at);
  const TimePoint expires = from_unix(value.expires_at);
  current_ = std::move(value);
  if (!has_value_left(now)) return now;
  // The previous agent's jitter sample is gone; a new one keeps a fleet that
  // restarted together spread out.
  return std::max(now, next_refresh_time(settings_, issued, expires, std::nullopt, uniform(random_, -1.0, 1.0)));
}

bool RefreshState::has_valid(TimePoint now) const {
  return current_ && (current_->expires_at == 0 || from_unix(current_->expires_at) > now);
}

TimePoint RefreshState::usable_until() const {
  const TimePoint expires = from_unix(current_->expires_at);
  const auto lifetime = expires - from_unix(current_->issued_at);
  return expires - (settings_.min_remaining < lifetime ? settings_.min_remaining : milliseconds(0));
}

bool RefreshState::has_value_left(TimePoint now) const {
  if (!current_) return false;
  return current_->expires_at == 0 || usable_until() > now;
}

RefreshState::Step RefreshState::on_result(FetchResult<FetchedCredential> result, TimePoint now) {
  if (auto* error = std::get_if<FetchError>(&result)) return fail(std::move(*error), now);
  FetchedCredential& fresh = std::get<FetchedCredential>(result);
  if (fresh.expires_at != 0 && from_unix(fresh.expires_at) <= now)
    return fail(FetchError{"the IdP returned a token that is already expired", std::nullopt, 0}, now);
  if (fresh.expires_at != 0 && fresh.expires_at <= fresh.issued_at)
    return fail(FetchError{"the IdP returned a token with no lifetime", std::nullopt, 0}, now);

  // After a start or after failures, many pods may be fetching right now.
  const bool spread = !current_ || failures_ > 0;
  failures_ = 0;
  last_error_.reset();
  Step step;
  step.publish = true;
  if (fresh.expires_at == 0) {
    // A credential that does not expire is not refreshed on a timer.
    step.next_attempt = TimePoint::max();
  } else {
    const auto issued = from_unix(fresh.issued_at);
    const std::optional<seconds> refresh_in =
        fresh.refresh_in ? std::optional<seconds>(seconds(*fresh.refresh_in)) : std::nullopt;
    TimePoint at = next_refresh_time(settings_, issued, from_unix(fresh.expires_at), refresh_in,
                                     uniform(random_, -1.0, 1.0));
    if (spread) at = spread_refresh_time(issued, at, uniform(random_, 0.0, 1.0));
    step.next_attempt = std::max(now, at);
  }
  current_ = std::move(fresh);
  step.delay = step.next_attempt == TimePoint::max()
                   ? milliseconds::max()
                   : duration_cast<milliseconds>(step.next_attempt - now);
  return step;
}

RefreshState::Step RefreshState::fail(FetchError error, TimePoint now) {
  ++failures_;
  Step step;
  step.delay = backoff_delay(settings_, failures_, uniform(random_, 0.0, 1.0), has_value_left(now));
  if (error.retry_after) {
    // While readers are served a valid value, an attempt before it becomes
    // unusable is worth more than the wait the IdP asked for; once none is
    // left, retry_after_max alone bounds the wait.
    std::optional<milliseconds> room;
    if (has_valid(now) && current_->expires_at != 0)
      room = duration_cast<milliseconds>(usable_until() - now) - step.delay;
    step.retry_after = honour_retry_after(settings_, *error.retry_after, room);
    step.delay += step.retry_after->wait;
  }
  step.next_attempt = now + step.delay;
  last_error_ = std::move(error);
  return step;
}

}  // namespace tw
