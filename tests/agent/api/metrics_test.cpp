// Metrics: every series the agent records, with the labels docs/metrics.md
// promises, created and dropped with the entries they describe.
#include <gtest/gtest.h>

#include "api_test_support.hpp"
#include "tokenwell/agent/metrics/metrics.hpp"

namespace tw {
namespace {

using testing::metric_value;
using namespace std::chrono_literals;

const std::int64_t kNow = 1'700'000'000;

class MetricsTest : public ::testing::Test {
 protected:
  SimulatedClock clock{Clock::time_point(std::chrono::seconds(kNow))};
  Metrics metrics{"1.2.3", clock};

  std::optional<double> value(std::string_view series) const {
    return metric_value(metrics.scrape(), series);
  }
};

TEST_F(MetricsTest, StartsWithBuildInfoNotReadyAndTheConfigLoadTime) {
  EXPECT_EQ(value(R"(tokenwell_build_info{version="1.2.3"})"), 1);
  EXPECT_EQ(value("tokenwell_ready"), 0);
  EXPECT_EQ(value("tokenwell_config_last_reload_success_timestamp_seconds"), kNow);
  EXPECT_EQ(value(R"(tokenwell_config_reload_total{result="failure"})"), 0);
  EXPECT_EQ(value("tokenwell_socket_denied_total"), 0);
  EXPECT_EQ(value("tokenwell_socket_connections"), 0);
}

TEST_F(MetricsTest, AddedCredentialHasZeroedCountersButNoExpiryYet) {
  metrics.credential_added("redis");
  EXPECT_EQ(value(R"(tokenwell_credential_refresh_total{credential="redis",result="success"})"), 0);
  EXPECT_EQ(value(R"(tokenwell_credential_refresh_total{credential="redis",result="failure"})"), 0);
  EXPECT_EQ(value(R"(tokenwell_credential_consecutive_failures{credential="redis"})"), 0);
  // An absent expiry cannot fire "expires in < 5 min" for a token never fetched.
  EXPECT_FALSE(value(R"(tokenwell_credential_expiry_timestamp_seconds{credential="redis"})"));
  EXPECT_FALSE(value(R"(tokenwell_credential_last_success_timestamp_seconds{credential="redis"})"));
}

TEST_F(MetricsTest, RefreshSuccessSetsExpiryLastSuccessAndClearsFailures) {
  metrics.credential_refresh_failed("redis", 1, 2s);
  metrics.credential_refresh_failed("redis", 2, 3s);
  EXPECT_EQ(value(R"(tokenwell_credential_consecutive_failures{credential="redis"})"), 2);
  clock.advance(10s);
  metrics.credential_refreshed("redis", kNow + 3600, 50ms);
  EXPECT_EQ(value(R"(tokenwell_credential_refresh_total{credential="redis",result="success"})"), 1);
  EXPECT_EQ(value(R"(tokenwell_credential_refresh_total{credential="redis",result="failure"})"), 2);
  EXPECT_EQ(value(R"(tokenwell_credential_consecutive_failures{credential="redis"})"), 0);
  EXPECT_EQ(value(R"(tokenwell_credential_expiry_timestamp_seconds{credential="redis"})"),
            kNow + 3600);
  EXPECT_EQ(value(R"(tokenwell_credential_last_success_timestamp_seconds{credential="redis"})"),
            kNow + 10);
  EXPECT_EQ(value(R"(tokenwell_credential_refresh_duration_seconds_count{credential="redis"})"), 3);
  EXPECT_DOUBLE_EQ(
      *value(R"(tokenwell_credential_refresh_duration_seconds_sum{credential="redis"})"), 5.05);
}

TEST_F(MetricsTest, ValueThatNeverExpiresHasNoExpirySeries) {
  metrics.credential_refreshed("password", kNow + 60, 1ms);
  metrics.credential_refreshed("password", 0, 1ms);
  EXPECT_FALSE(value(R"(tokenwell_credential_expiry_timestamp_seconds{credential="password"})"));
}

TEST_F(MetricsTest, IdpRequestsAreCountedByStatusCodeAndTimed) {
  metrics.idp_request("redis", 200, 20ms);
  metrics.idp_request("redis", 429, 10ms);
  metrics.idp_request("redis", 429, 10ms);
  metrics.idp_request("redis", 0, 10s);
  EXPECT_EQ(value(R"(tokenwell_idp_requests_total{code="200",credential="redis"})"), 1);
  EXPECT_EQ(value(R"(tokenwell_idp_requests_total{code="429",credential="redis"})"), 2);
  EXPECT_EQ(value(R"(tokenwell_idp_requests_total{code="error",credential="redis"})"), 1);
  EXPECT_EQ(value(R"(tokenwell_idp_request_duration_seconds_count{credential="redis"})"), 4);
  EXPECT_EQ(value(R"(tokenwell_idp_request_duration_seconds_bucket{credential="redis",le="0.025"})"),
            3);
}

TEST_F(MetricsTest, RemovingACredentialDropsEverySeriesOfItAndOnlyThose) {
  for (const char* name : {"redis", "other"}) {
    metrics.credential_added(name);
    metrics.idp_request(name, 200, 1ms);
    metrics.idp_request(name, 500, 1ms);
    metrics.credential_refreshed(name, kNow + 60, 1ms);
  }
  metrics.credential_removed("redis");
  const std::string scrape = metrics.scrape();
  EXPECT_EQ(scrape.find(R"(credential="redis")"), std::string::npos) << scrape;
  EXPECT_NE(scrape.find(R"(credential="other")"), std::string::npos);
  // Added again (a reload brought it back): it starts from zero.
  metrics.credential_added("redis");
  EXPECT_EQ(value(R"(tokenwell_credential_refresh_total{credential="redis",result="success"})"), 0);
}

// The alert rules compare time left with the refresh margin and a signing
// key's age with its rotation period (prometheus-rules.yaml).
TEST_F(MetricsTest, RefreshMarginAndRotationPeriodAreGaugesDroppedWithTheirEntry) {
  metrics.credential_added("redis");
  EXPECT_FALSE(value(R"(tokenwell_credential_refresh_margin_seconds{credential="redis"})"));
  metrics.credential_refresh_margin("redis", std::chrono::seconds(300));
  EXPECT_EQ(value(R"(tokenwell_credential_refresh_margin_seconds{credential="redis"})"), 300);
  metrics.credential_refresh_margin("redis", 1500ms);
  EXPECT_EQ(value(R"(tokenwell_credential_refresh_margin_seconds{credential="redis"})"), 1.5);
  metrics.keyset_added("sessions");
  metrics.keyset_rotation_period("sessions", std::chrono::hours(24));
  EXPECT_EQ(value(R"(tokenwell_keyset_rotation_period_seconds{keyset="sessions"})"), 86400);
  metrics.credential_removed("redis");
  metrics.keyset_removed("sessions");
  const std::string scrape = metrics.scrape();
  EXPECT_EQ(scrape.find(R"(credential="redis")"), std::string::npos) << scrape;
  EXPECT_EQ(scrape.find(R"(keyset="sessions")"), std::string::npos) << scrape;
}

// A value kept across a restart shows its expiry and when it was published,
// without counting a refresh.
TEST_F(MetricsTest, AdoptedValueSetsExpiryAndLastSuccessWithoutARefresh) {
  metrics.credential_added("redis");
  metrics.credential_adopted("redis", kNow + 600, kNow - 60);
  EXPECT_EQ(value(R"(tokenwell_credential_expiry_timestamp_seconds{credential="redis"})"), kNow + 600);
  EXPECT_EQ(value(R"(tokenwell_credential_last_success_timestamp_seconds{credential="redis"})"), kNow - 60);
  EXPECT_EQ(value(R"(tokenwell_credential_refresh_total{credential="redis",result="success"})"), 0);
}

TEST_F(MetricsTest, KeysetsCountKeysAndRefreshesAndAreRemovable) {
  metrics.keyset_added("sessions");
  EXPECT_FALSE(value(R"(tokenwell_keyset_keys{keyset="sessions"})"));
  metrics.keyset_refreshed("sessions", 3);
  metrics.keyset_refresh_failed("sessions", 1);
  EXPECT_EQ(value(R"(tokenwell_keyset_keys{keyset="sessions"})"), 3);
  EXPECT_EQ(value(R"(tokenwell_keyset_refresh_total{keyset="sessions",result="success"})"), 1);
  EXPECT_EQ(value(R"(tokenwell_keyset_refresh_total{keyset="sessions",result="failure"})"), 1);
  EXPECT_EQ(value(R"(tokenwell_keyset_consecutive_failures{keyset="sessions"})"), 1);
  EXPECT_EQ(value(R"(tokenwell_keyset_last_success_timestamp_seconds{keyset="sessions"})"), kNow);
  metrics.keyset_refreshed("sessions", 2, 1);
  EXPECT_EQ(value(R"(tokenwell_keyset_consecutive_failures{keyset="sessions"})"), 0);
  EXPECT_EQ(value(R"(tokenwell_keyset_skipped_keys{keyset="sessions"})"), 1);
  metrics.keyset_refresh_requested("sessions", true);
  metrics.keyset_refresh_requested("sessions", false);
  metrics.keyset_refresh_requested("sessions", false);
  EXPECT_EQ(value(R"(tokenwell_keyset_refresh_requests_total{keyset="sessions",result="rate_limited"})"), 2);
  metrics.keyset_signing_key_activated("sessions", 1234);
  EXPECT_EQ(value(R"(tokenwell_keyset_signing_key_activated_timestamp_seconds{keyset="sessions"})"), 1234);
  metrics.keyset_removed("sessions");
  EXPECT_EQ(metrics.scrape().find("sessions"), std::string::npos);
}

TEST_F(MetricsTest, SocketRequestsAreLabelledByRouteTemplateAndCode) {
  metrics.socket_request("/v1/credentials/{name}", 200);
  metrics.socket_request("/v1/credentials/{name}", 200);
  metrics.socket_request("other", 404);
  metrics.socket_denied();
  metrics.socket_connections(7);
  metrics.socket_connection_refused();
  EXPECT_EQ(value(R"(tokenwell_socket_requests_total{code="200",path="/v1/credentials/{name}"})"),
            2);
  EXPECT_EQ(value(R"(tokenwell_socket_requests_total{code="404",path="other"})"), 1);
  EXPECT_EQ(value("tokenwell_socket_denied_total"), 1);
  EXPECT_EQ(value("tokenwell_socket_connections"), 7);
  EXPECT_EQ(value("tokenwell_socket_connections_refused_total"), 1);
}

TEST_F(MetricsTest, ReadinessAndConfigReloads) {
  metrics.set_ready(true);
  EXPECT_EQ(value("tokenwell_ready"), 1);
  clock.advance(100s);
  metrics.config_reloaded(false);
  EXPECT_EQ(value("tokenwell_config_last_reload_success_timestamp_seconds"), kNow);
  metrics.config_reloaded(true);
  EXPECT_EQ(value(R"(tokenwell_config_reload_total{result="success"})"), 1);
  EXPECT_EQ(value(R"(tokenwell_config_reload_total{result="failure"})"), 1);
  EXPECT_EQ(value("tokenwell_config_last_reload_success_timestamp_seconds"), kNow + 100);
}

}  // namespace
}  // namespace tw
