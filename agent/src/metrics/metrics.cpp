// metrics.cpp -- the agent's metric families and the series of each entry.
// The HELP texts below are each metric's documentation (docs/metrics.md
// repeats them with example alerts).
#include "tokenwell/agent/metrics/metrics.hpp"

#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace tw {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Token requests take tens of milliseconds when healthy and up to the
// refresh timeout (10 s by default) when not; the top buckets show timeouts.
const Histogram::BucketBoundaries kLatencyBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                     0.5,   1,    2.5,   5,    10,  30};

Family<Counter>& counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}
Family<Gauge>& gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}
Family<Histogram>& histogram(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

std::string idp_code(int http_status) {
  return http_status == 0 ? "error" : std::to_string(http_status);
}

// Removes `metric` from `family` if it was ever created.
template <typename T>
void drop(Family<T>& family, T*& metric) {
  if (metric != nullptr) family.Remove(metric);
  metric = nullptr;
}

}  // namespace

struct Metrics::Impl {
  explicit Impl(const Clock& c) : clock(c) {}

  const Clock& clock;
  // Serializes the maps below; prometheus-cpp locks its own families.
  std::mutex mutex;
  prometheus::Registry registry;

  // --- credentials
  Family<Gauge>& expiry = gauge(
      registry, "tokenwell_credential_expiry_timestamp_seconds",
      "When the credential's current value expires, in unix seconds. Absent until a value "
      "exists, and for values that never expire.");
  Family<Counter>& refreshes = counter(
      registry, "tokenwell_credential_refresh_total",
      "Refresh attempts of a credential by result (success: a new value was published).");
  Family<Histogram>& refresh_duration = histogram(
      registry, "tokenwell_credential_refresh_duration_seconds",
      "How long one refresh of a credential took, successful or not.");
  Family<Gauge>& consecutive_failures = gauge(
      registry, "tokenwell_credential_consecutive_failures",
      "Refreshes of a credential that failed in a row since its last success; 0 when the "
      "last refresh succeeded.");
  Family<Gauge>& last_success = gauge(
      registry, "tokenwell_credential_last_success_timestamp_seconds",
      "When a refresh of the credential last succeeded, in unix seconds. Absent until then.");
  Family<Gauge>& refresh_margin = gauge(
      registry, "tokenwell_credential_refresh_margin_seconds",
      "The credential's refresh.min_remaining in seconds: the agent refreshes no later than "
      "this long before expiry. Absent for source: file.");
  Family<Counter>& idp_requests = counter(
      registry, "tokenwell_idp_requests_total",
      "Requests to the identity provider by HTTP status code (code=\"error\": no HTTP answer, "
      "e.g. a connect error or a timeout).");
  Family<Histogram>& idp_duration = histogram(
      registry, "tokenwell_idp_request_duration_seconds",
      "How long one request to the identity provider took, answered or not.");

  // --- keysets
  Family<Gauge>& keyset_keys = gauge(
      registry, "tokenwell_keyset_keys",
      "Keys in the keyset's published JWKS. Absent until the keyset was first fetched.");
  Family<Counter>& keyset_refreshes = counter(
      registry, "tokenwell_keyset_refresh_total",
      "Refresh attempts of a keyset by result (success: a usable key set was fetched, read "
      "or rotated; failure: the last good set stays published).");
  Family<Gauge>& keyset_consecutive_failures = gauge(
      registry, "tokenwell_keyset_consecutive_failures",
      "Refreshes of a keyset that failed in a row since its last success; 0 when the last "
      "refresh succeeded.");
  Family<Gauge>& keyset_last_success = gauge(
      registry, "tokenwell_keyset_last_success_timestamp_seconds",
      "When a refresh of the keyset last succeeded, in unix seconds. Absent until then.");
  Family<Gauge>& keyset_skipped = gauge(
      registry, "tokenwell_keyset_skipped_keys",
      "Keys (jwks) or key files (key_files) left out of the keyset's last successful refresh "
      "because they were unusable (unknown kty, bad encoding, unreadable file).");
  Family<Counter>& keyset_refresh_requests = counter(
      registry, "tokenwell_keyset_refresh_requests_total",
      "POST /v1/keysets/NAME/refresh by result (accepted, rate_limited: inside the cooldown).");
  Family<Gauge>& keyset_signing_key_activated = gauge(
      registry, "tokenwell_keyset_signing_key_activated_timestamp_seconds",
      "When the keyset's current signing key started signing (generated keysets), in unix "
      "seconds; time() minus it is the signing key's age.");
  Family<Gauge>& keyset_rotation_period = gauge(
      registry, "tokenwell_keyset_rotation_period_seconds",
      "A generated keyset's rotate_every in seconds: how long one signing key signs.");

  // --- the Unix socket API
  Family<Counter>& socket_requests = counter(
      registry, "tokenwell_socket_requests_total",
      "Requests answered on the Unix socket, by route template (\"other\": no route or "
      "unreadable) and HTTP status code.");
  Counter& socket_denied = counter(
      registry, "tokenwell_socket_denied_total",
      "Answers 403 on the Unix socket because the caller's uid and gid are not in `allow`: "
      "one per such connection, answered when accepted (and per request after a narrowing "
      "reload).").Add({});
  Gauge& socket_connections = gauge(
      registry, "tokenwell_socket_connections",
      "Open connections on the Unix socket.").Add({});
  Counter& socket_refused = counter(
      registry, "tokenwell_socket_connections_refused_total",
      "Connections to the Unix socket closed at once because max_connections were open, or "
      "max_connections_per_uid of the caller's uid.")
      .Add({});

  // --- both HTTP listeners (listener: "socket" or "health", the TCP one)
  Family<Counter>& http_shed = counter(
      registry, "tokenwell_http_connections_shed_total",
      "Idle connections closed to make room for a new one because max_connections were open.");
  Family<Counter>& http_refused = counter(
      registry, "tokenwell_http_connections_refused_total",
      "New connections to the TCP listener closed at once because max_connections were open "
      "and none was idle.");

  // --- the agent
  Gauge& ready = gauge(registry, "tokenwell_ready",
                       "1 when every credential and keyset has a valid value (what /readyz "
                       "answers 200 for), else 0.")
                     .Add({});
  Family<Gauge>& build_info = gauge(registry, "tokenwell_build_info",
                                    "Always 1; the label says which version runs.");
  Family<Counter>& config_reloads = counter(
      registry, "tokenwell_config_reload_total",
      "Config reloads (SIGHUP) by result; on failure the previous config stays in force.");
  Gauge& config_last_success = gauge(
      registry, "tokenwell_config_last_reload_success_timestamp_seconds",
      "When the config in force was loaded, in unix seconds (the agent's start, or the last "
      "successful reload).").Add({});

  struct CredentialSeries {
    Counter* success = nullptr;
    Counter* failure = nullptr;
    Histogram* refresh_duration = nullptr;
    Gauge* consecutive_failures = nullptr;
    Gauge* expiry = nullptr;
    Gauge* last_success = nullptr;
    Gauge* refresh_margin = nullptr;
    Histogram* idp_duration = nullptr;
    std::map<std::string, Counter*> idp_requests;  // by code
  };
  struct KeysetSeries {
    Counter* success = nullptr;
    Counter* failure = nullptr;
    Gauge* keys = nullptr;
    Gauge* consecutive_failures = nullptr;
    Gauge* last_success = nullptr;
    Gauge* skipped = nullptr;
    Counter* accepted = nullptr;
    Counter* rate_limited = nullptr;
    Gauge* activated = nullptr;
    Gauge* rotation_period = nullptr;
  };
  std::map<std::string, CredentialSeries, std::less<>> credentials;
  std::map<std::string, KeysetSeries, std::less<>> keysets;

  double now() const { return static_cast<double>(clock.unix_millis()) / 1000.0; }

  // The series of `name`, created with zeroed counters on first use.
  CredentialSeries& credential(std::string_view name) {
    auto it = credentials.find(name);
    if (it != credentials.end()) return it->second;
    const std::string n(name);
    CredentialSeries s;
    s.success = &refreshes.Add({{"credential", n}, {"result", "success"}});
    s.failure = &refreshes.Add({{"credential", n}, {"result", "failure"}});
    s.refresh_duration = &refresh_duration.Add({{"credential", n}}, kLatencyBuckets);
    s.consecutive_failures = &consecutive_failures.Add({{"credential", n}});
    s.idp_duration = &idp_duration.Add({{"credential", n}}, kLatencyBuckets);
    return credentials.emplace(n, s).first->second;
  }

  // A value of `name` that expires at `expires_at`, obtained at `succeeded_at`.
  void set_value(CredentialSeries& s, std::string_view name, std::int64_t expires_at, double succeeded_at) {
    if (s.last_success == nullptr) s.last_success = &last_success.Add({{"credential", std::string(name)}});
    s.last_success->Set(succeeded_at);
    if (expires_at == 0) {
      // A value that never expires must not look like one that expired in 1970.
      drop(expiry, s.expiry);
    } else {
      if (s.expiry == nullptr) s.expiry = &expiry.Add({{"credential", std::string(name)}});
      s.expiry->Set(static_cast<double>(expires_at));
    }
  }

  KeysetSeries& keyset(std::string_view name) {
    auto it = keysets.find(name);
    if (it != keysets.end()) return it->second;
    const std::string n(name);
    KeysetSeries s;
    s.success = &keyset_refreshes.Add({{"keyset", n}, {"result", "success"}});
    s.failure = &keyset_refreshes.Add({{"keyset", n}, {"result", "failure"}});
    s.consecutive_failures = &keyset_consecutive_failures.Add({{"keyset", n}});
    s.skipped = &keyset_skipped.Add({{"keyset", n}});
    s.accepted = &keyset_refresh_requests.Add({{"keyset", n}, {"result", "accepted"}});
    s.rate_limited = &keyset_refresh_requests.Add({{"keyset", n}, {"result", "rate_limited"}});
    return keysets.emplace(n, s).first->second;
  }
};

Metrics::Metrics(std::string_view version, const Clock& clock)
    : impl_(std::make_unique<Impl>(clock)) {
  impl_->build_info.Add({{"version", std::string(version)}}).Set(1);
  impl_->config_reloads.Add({{"result", "success"}});
  impl_->config_reloads.Add({{"result", "failure"}});
  impl_->config_last_success.Set(impl_->now());
  impl_->http_shed.Add({{"listener", "health"}});
  impl_->http_refused.Add({{"listener", "health"}});
}

Metrics::~Metrics() = default;

std::string Metrics::scrape() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, impl_->registry.Collect());
  return std::move(out).str();
}

prometheus::Registry& Metrics::registry() { return impl_->registry; }

void Metrics::credential_added(std::string_view credential) {
  std::lock_guard lock(impl_->mutex);
  impl_->credential(credential);
}

void Metrics::credential_removed(std::string_view credential) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->credentials.find(credential);
  if (it == impl_->credentials.end()) return;
  Impl::CredentialSeries& s = it->second;
  drop(impl_->refreshes, s.success);
  drop(impl_->refreshes, s.failure);
  drop(impl_->refresh_duration, s.refresh_duration);
  drop(impl_->consecutive_failures, s.consecutive_failures);
  drop(impl_->expiry, s.expiry);
  drop(impl_->last_success, s.last_success);
  drop(impl_->refresh_margin, s.refresh_margin);
  drop(impl_->idp_duration, s.idp_duration);
  for (auto& [code, c] : s.idp_requests) drop(impl_->idp_requests, c);
  impl_->credentials.erase(it);
}

void Metrics::credential_refreshed(std::string_view credential, std::int64_t expires_at,
                                   Seconds took) {
  std::lock_guard lock(impl_->mutex);
  Impl::CredentialSeries& s = impl_->credential(credential);
  s.success->Increment();
  s.refresh_duration->Observe(took.count());
  s.consecutive_failures->Set(0);
  impl_->set_value(s, credential, expires_at, impl_->now());
}

void Metrics::credential_refresh_margin(std::string_view credential, Seconds margin) {
  std::lock_guard lock(impl_->mutex);
  Impl::CredentialSeries& s = impl_->credential(credential);
  if (s.refresh_margin == nullptr)
    s.refresh_margin = &impl_->refresh_margin.Add({{"credential", std::string(credential)}});
  s.refresh_margin->Set(margin.count());
}

void Metrics::credential_adopted(std::string_view credential, std::int64_t expires_at,
                                 std::int64_t published_at) {
  std::lock_guard lock(impl_->mutex);
  impl_->set_value(impl_->credential(credential), credential, expires_at,
                   static_cast<double>(published_at));
}

void Metrics::credential_refresh_failed(std::string_view credential,
                                        unsigned consecutive_failures, Seconds took) {
  std::lock_guard lock(impl_->mutex);
  Impl::CredentialSeries& s = impl_->credential(credential);
  s.failure->Increment();
  s.refresh_duration->Observe(took.count());
  s.consecutive_failures->Set(consecutive_failures);
}

void Metrics::idp_request(std::string_view credential, int http_status, Seconds took) {
  std::lock_guard lock(impl_->mutex);
  Impl::CredentialSeries& s = impl_->credential(credential);
  const std::string code = idp_code(http_status);
  Counter*& c = s.idp_requests[code];
  if (c == nullptr)
    c = &impl_->idp_requests.Add({{"credential", std::string(credential)}, {"code", code}});
  c->Increment();
  s.idp_duration->Observe(took.count());
}

void Metrics::keyset_added(std::string_view keyset) {
  std::lock_guard lock(impl_->mutex);
  impl_->keyset(keyset);
}

void Metrics::keyset_removed(std::string_view keyset) {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->keysets.find(keyset);
  if (it == impl_->keysets.end()) return;
  drop(impl_->keyset_refreshes, it->second.success);
  drop(impl_->keyset_refreshes, it->second.failure);
  drop(impl_->keyset_keys, it->second.keys);
  drop(impl_->keyset_consecutive_failures, it->second.consecutive_failures);
  drop(impl_->keyset_last_success, it->second.last_success);
  drop(impl_->keyset_skipped, it->second.skipped);
  drop(impl_->keyset_refresh_requests, it->second.accepted);
  drop(impl_->keyset_refresh_requests, it->second.rate_limited);
  drop(impl_->keyset_signing_key_activated, it->second.activated);
  drop(impl_->keyset_rotation_period, it->second.rotation_period);
  impl_->keysets.erase(it);
}

void Metrics::keyset_refreshed(std::string_view keyset, std::size_t keys, std::size_t skipped) {
  std::lock_guard lock(impl_->mutex);
  Impl::KeysetSeries& s = impl_->keyset(keyset);
  s.success->Increment();
  if (s.keys == nullptr) s.keys = &impl_->keyset_keys.Add({{"keyset", std::string(keyset)}});
  s.keys->Set(static_cast<double>(keys));
  s.consecutive_failures->Set(0);
  s.skipped->Set(static_cast<double>(skipped));
  if (s.last_success == nullptr)
    s.last_success = &impl_->keyset_last_success.Add({{"keyset", std::string(keyset)}});
  s.last_success->Set(impl_->now());
}

void Metrics::keyset_refresh_failed(std::string_view keyset, unsigned consecutive_failures) {
  std::lock_guard lock(impl_->mutex);
  Impl::KeysetSeries& s = impl_->keyset(keyset);
  s.failure->Increment();
  s.consecutive_failures->Set(consecutive_failures);
}

void Metrics::keyset_refresh_requested(std::string_view keyset, bool accepted) {
  std::lock_guard lock(impl_->mutex);
  Impl::KeysetSeries& s = impl_->keyset(keyset);
  (accepted ? s.accepted : s.rate_limited)->Increment();
}

void Metrics::keyset_signing_key_activated(std::string_view keyset, std::int64_t activated_at) {
  std::lock_guard lock(impl_->mutex);
  Impl::KeysetSeries& s = impl_->keyset(keyset);
  if (s.activated == nullptr)
    s.activated = &impl_->keyset_signing_key_activated.Add({{"keyset", std::string(keyset)}});
  s.activated->Set(static_cast<double>(activated_at));
}

void Metrics::keyset_rotation_period(std::string_view keyset, Seconds period) {
  std::lock_guard lock(impl_->mutex);
  Impl::KeysetSeries& s = impl_->keyset(keyset);
  if (s.rotation_period == nullptr)
    s.rotation_period = &impl_->keyset_rotation_period.Add({{"keyset", std::string(keyset)}});
  s.rotation_period->Set(period.count());
}

void Metrics::socket_request(std::string_view route, unsigned status) {
  impl_->socket_requests.Add({{"path", std::string(route)}, {"code", std::to_string(status)}})
      .Increment();
}

void Metrics::socket_denied() { impl_->socket_denied.Increment(); }

void Metrics::socket_connections(std::size_t open) {
  impl_->socket_connections.Set(static_cast<double>(open));
}

void Metrics::socket_connection_refused() { impl_->socket_refused.Increment(); }

void Metrics::http_connection_shed(std::string_view listener) {
  impl_->http_shed.Add({{"listener", std::string(listener)}}).Increment();
}

void Metrics::http_connection_refused(std::string_view listener) {
  impl_->http_refused.Add({{"listener", std::string(listener)}}).Increment();
}

void Metrics::set_ready(bool ready) { impl_->ready.Set(ready ? 1 : 0); }

void Metrics::config_reloaded(bool ok) {
  impl_->config_reloads.Add({{"result", ok ? "success" : "failure"}}).Increment();
  if (ok) impl_->config_last_success.Set(impl_->now());
}

}  // namespace tw
