// jwks_keyset.hpp -- `source: jwks`: fetching an IdP's JWKS over HTTPS
// (JwksFetcher) and the decisions of its refresh loop on an injected time
// (JwksRefreshState), kept apart so every rule is tested on simulated time.
//
//   JwksFetcher fetcher(config, http);            // discovery -> jwks_uri -> JWKS
//   JwksRefreshState state(config, random);
//   auto next = state.start(clock.now());
//   ... at `next`: state.fetch_started(now); auto r = fetcher.fetch(); then
//   auto step = state.on_result(std::move(r), clock.now());
//   if (step.publish) publish(state.current()->jwks);
//   ... POST /v1/keysets/NAME/refresh:
//   auto d = state.on_demand(clock.now());       // accepted: fetch now
//
// Rules: the next refresh is the response's Cache-Control max-age clamped to
// [refresh_min, refresh_max] (refresh_default without one); a failure keeps
// the last good set and retries with exponential backoff and full jitter
// (retry_min..retry_max, never sooner than a 429/503 Retry-After); on-demand
// refetches (a verifier met an unknown kid) are allowed once per `cooldown`
// since the last fetch began, so a flood of bad tokens cannot hammer the IdP.
// Thread-compatible; JwksFetcher::fetch runs on a worker thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/keysets/jwk.hpp"
#include "tokenwell/agent/config/keyset_config.hpp"
#include "tokenwell/agent/common/random_source.hpp"
#include "tokenwell/agent/refresh/entry_runner.hpp"
#include "tokenwell/agent/refresh/refresh_policy.hpp"

namespace tw {

struct FetchedJwks {
  std::string jwks;  // the published document: usable public keys only
  std::size_t keys = 0;
  std::vector<std::string> skipped;  // keys left out, and why
  std::optional<std::chrono::seconds> max_age;
};

struct JwksFetchError {
  std::string message;
  int http_status = 0;  // 0: no HTTP answer
  std::optional<std::chrono::seconds> retry_after;  // 429 / 503 Retry-After, obeyed
};

class JwksFetcher {
 public:
  JwksFetcher(JwksKeysetConfig config, HttpClient& http, const Clock& clock)
      : config_(std::move(config)), http_(http), clock_(clock) {}
  // Discovery (when configured with an issuer), then the JWKS.
  std::variant<FetchedJwks, JwksFetchError> fetch();

 private:
  JwksKeysetConfig config_;
  HttpClient& http_;
  const Clock& clock_;  // for Retry-After dates
};

class JwksRefreshState {
 public:
  struct Step {
    bool publish = false;  // current() changed: publish it
    TimePoint next_attempt;
  };

  JwksRefreshState(JwksKeysetConfig config, RandomSource& random);

  TimePoint start(TimePoint now) { return now; }
  // A fetch begins now (scheduled or on demand): starts the cooldown.
  void fetch_started(TimePoint now) { last_fetch_ = now; }
  Step on_result(std::variant<FetchedJwks, JwksFetchError> result, TimePoint now);
  // On-demand refetches: accepted, or refused with when to ask again.
  RefetchReply on_demand(TimePoint now) const;

  const std::optional<FetchedJwks>& current() const { return current_; }
  unsigned consecutive_failures() const { return failures_; }
  const std::optional<JwksFetchError>& last_error() const { return last_error_; }
  // The interval a successful fetch with this max-age schedules.
  std::chrono::milliseconds refresh_interval(std::optional<std::chrono::seconds> max_age) const;

 private:
  JwksKeysetConfig config_;
  RandomSource& random_;
  std::optional<FetchedJwks> current_;
  std::optional<JwksFetchError> last_error_;
  std::optional<TimePoint> last_fetch_;
  unsigned failures_ = 0;
};

}  // namespace tw
