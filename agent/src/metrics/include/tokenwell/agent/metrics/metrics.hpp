// metrics.hpp -- every Prometheus metric of the agent, behind typed methods
// so a name or a label is spelled in one place (docs/metrics.md lists them
// with example alerts). HealthListener serves scrape() at /metrics.
//
//   Metrics metrics(TOKENWELL_VERSION, clock);
//   metrics.credential_added("redis");
//   metrics.idp_request("redis", 200, took);
//   metrics.credential_refreshed("redis", cred.expires_at, took);
//   metrics.credential_removed("redis");   // after a reload dropped it
//
// Label values are entry names, route templates, status codes and fixed
// words -- never a secret, a raw request path or a caller's identity, so
// cardinality stays bounded by the config.
// Thread-safe: the refresh workers and the event loop may record at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tokenwell/agent/common/clock.hpp"

namespace prometheus {
class Registry;
}

namespace tw {

class Metrics {
 public:
  using Seconds = std::chrono::duration<double>;

  // `version` becomes tokenwell_build_info{version}. The clock stamps the
  // *_timestamp_seconds gauges; construction counts as the initial config
  // load (an agent whose config does not load never serves metrics).
  Metrics(std::string_view version, const Clock& clock);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The exposition of every metric, Prometheus text format 0.0.4.
  std::string scrape() const;
  // For metrics a component registers by itself.
  prometheus::Registry& registry();

  // --- Credentials (label `credential`: its configured name) -------------
  // A configured credential: its counters start at zero so rate() and
  // increase() work from its first failure on.
  void credential_added(std::string_view credential);
  // Drops every series of the credential (after a reload removed it).
  void credential_removed(std::string_view credential);
  // A refresh published a new value expiring at `expires_at` (unix seconds;
  // 0 = never, which leaves no expiry series to alert on).
  void credential_refreshed(std::string_view credential, std::int64_t expires_at, Seconds took);
  // The credential's refresh margin: how long before expiry it is refreshed at
  // the latest (its refresh.min_remaining). Not set for file sources.
  void credential_refresh_margin(std::string_view credential, Seconds margin);
  // A value published before a restart was kept: it expires at `expires_at`
  // and counts as the last success, at `published_at` (unix seconds); the
  // refresh counters do not move.
  void credential_adopted(std::string_view credential, std::int64_t expires_at, std::int64_t published_at);
  // A refresh failed; `consecutive_failures` counts this one.
  void credential_refresh_failed(std::string_view credential, unsigned consecutive_failures,
                                 Seconds took);
  // One request to the identity provider; `http_status` 0 means no HTTP
  // answer at all (connect error, timeout, TLS) and is counted as code="error".
  void idp_request(std::string_view credential, int http_status, Seconds took);

  // --- Keysets (label `keyset`) -------------------------------------------
  void keyset_added(std::string_view keyset);
  void keyset_removed(std::string_view keyset);
  // A refresh succeeded: `keys` are published, `skipped` keys or files were
  // left out as unusable.
  void keyset_refreshed(std::string_view keyset, std::size_t keys, std::size_t skipped = 0);
  void keyset_refresh_failed(std::string_view keyset, unsigned consecutive_failures);
  // POST /v1/keysets/NAME/refresh: accepted, or refused inside the cooldown.
  void keyset_refresh_requested(std::string_view keyset, bool accepted);
  // A generated keyset's signing key started signing at `activated_at` (unix seconds).
  void keyset_signing_key_activated(std::string_view keyset, std::int64_t activated_at);
  // A generated keyset's rotate_every: how long one signing key signs.
  void keyset_rotation_period(std::string_view keyset, Seconds period);

  // --- The Unix socket API (SocketApi records these) ---------------------
  // `route` is the route template ("/v1/credentials/{name}"), or "other".
  void socket_request(std::string_view route, unsigned status);
  void socket_denied();
  void socket_connections(std::size_t open);
  void socket_connection_refused();

  // --- Both HTTP listeners ("socket", "health") ---------------------------
  void http_connection_shed(std::string_view listener);
  void http_connection_refused(std::string_view listener);

  // --- The agent -----------------------------------------------------------
  void set_ready(bool ready);
  void config_reloaded(bool ok);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tw
