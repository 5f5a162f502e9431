// refresh_state.cpp -- see refresh_state.hpp.
#include "tokenwell/agent/refresh/refresh_state.hpp"

#include <array>
#include <cstdint>
#include <cstring>

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

bool RefreshState::has_valid(TimePoint now) const {
  return current_ && (current_->expires_at == 0 || from_unix(current_->expires_at) > now);
}

RefreshState::Step RefreshState::on_result(FetchResult<FetchedCredential> result, TimePoint now) {
  if (auto* error = std::get_if<FetchError>(&result)) return fail(std::move(*error), now);
  FetchedCredential& fresh = std::get<FetchedCredential>(result);
  if (fresh.expires_at != 0 && from_unix(fresh.expires_at) <= now)
    return fail(FetchError{"the IdP returned a token that is already expired", std::nullopt, 0}, now);
  if (fresh.expires_at != 0 && fresh.expires_at <= fresh.issued_at)
    return fail(FetchError{"the IdP returned a token with no lifetime", std::nullopt, 0}, now);

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
    step.next_attempt = std::max(
        now, next_refresh_time(settings_, issued, from_unix(fresh.expires_at), refresh_in,
                               uniform(random_, -1.0, 1.0)));
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
  step.delay = retry_delay(settings_, failures_, error.retry_after, uniform(random_, 0.0, 1.0));
  step.next_attempt = now + step.delay;
  last_error_ = std::move(error);
  return step;
}

}  // namespace tw
