// credential_runner.cpp -- see credential_runner.hpp.
#include "tokenwell/agent/refresh/credential_runner.hpp"

#include <utility>

#include "tokenwell/agent/common/log.hpp"

namespace tw {
namespace {

bool same_value(const FetchedCredential& a, const FetchedCredential& b) {
  return a.token == b.token && a.username == b.username && a.expires_at == b.expires_at;
}

}  // namespace

CredentialRunner::CredentialRunner(CredentialConfig config, std::shared_ptr<CredentialSource> source,
                                   Context context, OnFresh on_fresh, std::optional<FetchedCredential> adopted)
    : config_(std::move(config)),
      context_(context),
      state_(config_.refresh, context_.random),
      on_fresh_(std::move(on_fresh)),
      adopted_(std::move(adopted)),
      cycle_(context_.time, context_.executor, [source = std::move(source)] { return source->fetch(); },
             [this](FetchResult<FetchedCredential> r, std::chrono::nanoseconds took) {
               on_result(std::move(r), took);
             }) {
  cycle_.on_begin([this] {
    log::debug("fetching", {{"credential", config_.name}, {"source", config_.source}});
  });
}

void CredentialRunner::start() {
  const TimePoint now = context_.time.clock().now();
  std::optional<FetchedCredential> adopted = std::exchange(adopted_, std::nullopt);
  if (is_file()) {
    schedule(state_.start(now));  // the file is the value: read it
    return;
  }
  context_.metrics.credential_refresh_margin(config_.name, config_.refresh.min_remaining);
  if (!adopted) {
    schedule(state_.start(now));
    return;
  }
  const std::int64_t published_at = adopted->issued_at;
  const std::int64_t expires_at = adopted->expires_at;
  const std::optional<TimePoint> next = state_.adopt(std::move(*adopted), now);
  if (!next) {
    schedule(state_.start(now));
    return;
  }
  last_success_ = TimePoint(std::chrono::seconds(published_at));
  context_.metrics.credential_adopted(config_.name, expires_at, published_at);
  log::info("kept the value published before the restart",
            {{"credential", config_.name},
             {"expires_in_s", expires_at - context_.time.clock().unix_seconds()},
             {"refresh_in_s", std::chrono::duration<double>(*next - now).count()}});
  schedule(*next);
}

void CredentialRunner::schedule(TimePoint at) {
  next_attempt_ = at == TimePoint::max() ? std::nullopt : std::optional<TimePoint>(at);
  cycle_.schedule(at);
}

RefreshStatus CredentialRunner::refresh_status() const {
  RefreshStatus s;
  s.last_success = last_success_;
  s.consecutive_failures = state_.consecutive_failures();
  if (const auto& error = state_.last_error()) s.last_error = status_error_text(error->message);
  s.next_attempt = next_attempt_;
  return s;
}

std::optional<std::filesystem::path> CredentialRunner::watched_directory() const {
  if (!is_file()) return std::nullopt;
  return std::get<FileSourceConfig>(config_.settings).path.parent_path();
}

void CredentialRunner::log_retry_after_limit(const HonouredRetryAfter& honoured, TimePoint now) const {
  using Seconds = std::chrono::duration<double>;
  const auto asked = static_cast<std::int64_t>(state_.last_error()->retry_after->count());
  switch (honoured.limit) {
    case HonouredRetryAfter::Limit::none:
      return;
    case HonouredRetryAfter::Limit::retry_after_max:
      log::warn("Retry-After is longer than refresh.retry_after_max; waiting retry_after_max",
                {{"credential", config_.name},
                 {"retry_after_s", asked},
                 {"retry_after_max_s", Seconds(config_.refresh.retry_after_max).count()}});
      return;
    case HonouredRetryAfter::Limit::value_usable:
      // One literal: docs/security.md quotes it.
      log::warn("Retry-After would hold the next attempt past the moment the value served becomes unusable (expiry minus refresh.min_remaining); retrying before then",
                {{"credential", config_.name},
                 {"retry_after_s", asked},
                 {"waiting_s", Seconds(honoured.wait).count()},
                 {"expires_in_s", Seconds(TimePoint(std::chrono::seconds(state_.current()->expires_at)) - now).count()}});
      return;
  }
}

void CredentialRunner::on_result(FetchResult<FetchedCredential> result, std::chrono::nanoseconds took) {
  const Metrics::Seconds seconds = took;
  if (!is_file()) {
    const auto* err = std::get_if<FetchError>(&result);
    context_.metrics.idp_request(config_.name, err ? err->http_status : 200, seconds);
  }
  const Clock& clock = context_.time.clock();
  std::optional<FetchedCredential> previous = state_.current();
  auto step = state_.on_result(std::move(result), clock.now());
  if (step.publish) {
    last_success_ = clock.now();
    if (!previous || !same_value(*previous, *state_.current())) {
      context_.metrics.credential_refreshed(config_.name, state_.current()->expires_at, seconds);
      on_fresh_(config_, *state_.current());
    }
    // A file source refreshes on inotify events, not on a timer.
    if (is_file()) step.next_attempt = TimePoint::max();
  } else {
    context_.metrics.credential_refresh_failed(config_.name, state_.consecutive_failures(), seconds);
    if (step.retry_after) log_retry_after_limit(*step.retry_after, clock.now());
    log::warn("refresh failed; keeping the last good value, retrying",
              {{"credential", config_.name},
               {"error", state_.last_error()->message},
               {"http_status", state_.last_error()->http_status},
               {"consecutive_failures", state_.consecutive_failures()},
               {"retry_in_s", std::chrono::duration<double>(step.delay).count()},
               {"has_valid_value", state_.has_valid(clock.now())}});
  }
  schedule(step.next_attempt);
  report(step.publish);
}

}  // namespace tw
