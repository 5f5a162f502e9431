// The TCP listener: /metrics (checked by promtool), /healthz, /readyz, and
// nothing else -- never a credential over TCP.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "api_test_support.hpp"
#include "tokenwell/agent/api/health_listener.hpp"

namespace tw::testing {
namespace {

using nlohmann::json;
namespace http = boost::beast::http;

class HealthListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend.publish("redis", "s3cret-token");
    open("127.0.0.1:0");
  }
  void TearDown() override {
    loop.stop();
    listener.reset();
  }

  void open(const std::string& listen) {
    auto opened = loop.run([&] {
      return HealthListener::open(loop.io, {.listen = listen}, backend, metrics, time);
    });
    ASSERT_TRUE(opened) << opened.error().message;
    listener = std::move(*opened);
    host = listen.substr(0, listen.rfind(':'));
    if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
  }

  std::optional<Reply> get(std::string_view target, std::string_view method = "GET") {
    TestClient c = TestClient::tcp(host, listener->port());
    if (!c.connected()) return std::nullopt;
    return c.request(method, target);
  }

  LoopThread loop;
  FakeBackend backend;
  SimulatedClock clock{Clock::time_point(std::chrono::seconds(1'700'000'000))};
  SimulatedTime time{Clock::time_point(std::chrono::seconds(1'700'000'000)),
                     [this](std::function<void()> f) { boost::asio::post(loop.io, std::move(f)); }};
  Metrics metrics{"0.1.0", clock};
  std::unique_ptr<HealthListener> listener;
  std::string host;
};

TEST_F(HealthListenerTest, ReportsThePortItBound) { EXPECT_NE(listener->port(), 0); }

TEST_F(HealthListenerTest, ServesMetricsInTextFormat) {
  auto r = get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ((*r)[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r->body().find(R"(tokenwell_build_info{version="0.1.0"} 1)"), std::string::npos);
  // A scraper's own parameters are ignored.
  EXPECT_EQ(get("/metrics?name[]=x")->result_int(), 200);
}

TEST_F(HealthListenerTest, HealthzAnswersOk) {
  auto r = get("/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  EXPECT_EQ(r->body(), "ok\n");
}

TEST_F(HealthListenerTest, ReadyzAndTheReadyGaugeFollowTheBackend) {
  backend.set_readiness({.ready = false, .reasons = {{"redis", "no valid value yet"}}});
  auto not_ready = get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->result_int(), 503);
  EXPECT_EQ(json::parse(not_ready->body()),
            json::parse(R"({"ready":false,"reasons":[{"name":"redis","reason":"no valid value yet"}]})"));
  EXPECT_NE(get("/metrics")->body().find("\ntokenwell_ready 0\n"), std::string::npos);

  backend.set_readiness({.ready = true, .reasons = {}});
  EXPECT_EQ(get("/readyz")->result_int(), 200);
  EXPECT_NE(get("/metrics")->body().find("\ntokenwell_ready 1\n"), std::string::npos);
}

TEST_F(HealthListenerTest, NeverServesCredentialsOrAnythingElse) {
  for (const char* target : {"/v1/credentials", "/v1/credentials/redis", "/v1/keysets/k/jwks",
                             "/", "/metricsx", "/healthz/"}) {
    auto r = get(target);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->result_int(), 404) << target;
    EXPECT_EQ(r->body().find("s3cret"), std::string::npos);
  }
  EXPECT_EQ(get("/v1/keysets/k/refresh", "POST")->result_int(), 404);
  EXPECT_EQ(get("/metrics")->body().find("s3cret"), std::string::npos);
}

TEST_F(HealthListenerTest, WrongMethodIs405) {
  auto r = get("/metrics", "POST");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 405);
  EXPECT_EQ((*r)[http::field::allow], "GET");
}

TEST_F(HealthListenerTest, PromtoolAcceptsARealScrape) {
  const std::string promtool = TOKENWELL_PROMTOOL;
  if (promtool.empty() || ::access(promtool.c_str(), X_OK) != 0)
    GTEST_SKIP() << "promtool not found (Debian package `prometheus`, see scripts/install-deps.sh)";
  // Every family with series in it.
  metrics.credential_added("redis");
  metrics.idp_request("redis", 200, std::chrono::milliseconds(30));
  metrics.idp_request("redis", 0, std::chrono::seconds(10));
  metrics.credential_refreshed("redis", 1'700'003'600, std::chrono::milliseconds(31));
  metrics.credential_refresh_failed("redis", 1, std::chrono::seconds(10));
  metrics.keyset_refreshed("keys", 2);
  metrics.keyset_refresh_failed("keys", 1);
  metrics.socket_request("/v1/credentials/{name}", 200);
  metrics.socket_denied();
  metrics.socket_connections(3);
  metrics.socket_connection_refused();
  metrics.config_reloaded(true);

  auto r = get("/metrics");
  ASSERT_TRUE(r);
  TempDir dir;
  const auto scrape = dir.path() / "scrape.txt";
  std::ofstream(scrape) << r->body();
  const std::string command = promtool + " check metrics < " + scrape.string() + " 2>&1";
  FILE* out = ::popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string report;
  char buf[512];
  while (std::fgets(buf, sizeof buf, out) != nullptr) report += buf;
  const int status = ::pclose(out);
  EXPECT_EQ(status, 0) << report << "\n--- scrape ---\n" << r->body();
}

TEST_F(HealthListenerTest, ListensOnIpv6Loopback) {
  auto v6 = loop.run([&] {
    return HealthListener::open(loop.io, {.listen = "[::1]:0"}, backend, metrics, time);
  });
  if (!v6) GTEST_SKIP() << "no IPv6 loopback here: " << v6.error().message;
  TestClient c = TestClient::tcp("::1", (*v6)->port());
  ASSERT_TRUE(c.connected());
  auto r = c.request("GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  loop.run([&] { v6->reset(); });
}

TEST_F(HealthListenerTest, BadOrTakenAddressesAreErrors) {
  auto named = loop.run([&] {
    return HealthListener::open(loop.io, {.listen = "localhost:9464"}, backend, metrics, time);
  });
  ASSERT_FALSE(named);
  EXPECT_NE(named.error().message.find("localhost:9464"), std::string::npos);

  const std::string taken = "127.0.0.1:" + std::to_string(listener->port());
  auto twice = loop.run([&] {
    return HealthListener::open(loop.io, {.listen = taken}, backend, metrics, time);
  });
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("bind"), std::string::npos) << twice.error().message;
}

// 300 idle connections from anywhere on the network (more than the
// listener's 256) must not starve the kubelet's probes: the oldest idle
// connection is shed for each new one. Time stands still here, so no idle
// timeout helps: shedding alone keeps the probes answered.
TEST_F(HealthListenerTest, AFloodOfIdleConnectionsDoesNotStarveTheProbes) {
  constexpr int kFlood = 300;
  ASSERT_TRUE(ensure_open_files(2 * kFlood + 256)) << "cannot raise RLIMIT_NOFILE";
  std::vector<TestClient> flood;
  for (int i = 0; i < kFlood; ++i) {
    flood.push_back(TestClient::tcp(host, listener->port()));
    ASSERT_TRUE(flood.back().connected()) << i;
  }
  // Until the listener has taken the whole flood (44 beyond its 256 shed,
  // or refused), a probe could slip in ahead of part of it.
  const std::string shed = R"(tokenwell_http_connections_shed_total{listener="health"})";
  const std::string refused = R"(tokenwell_http_connections_refused_total{listener="health"})";
  ASSERT_TRUE(eventually([&] {
    const std::string scrape = metrics.scrape();
    return metric_value(scrape, shed).value_or(0) + metric_value(scrape, refused).value_or(0) == kFlood - 256;
  }, 10s));
  for (int i = 0; i < 10; ++i) {
    auto healthz = get("/healthz");
    ASSERT_TRUE(healthz) << "probe " << i << " not answered";
    EXPECT_EQ(healthz->result_int(), 200);
    EXPECT_EQ(healthz->body(), "ok\n");
    auto readyz = get("/readyz");
    ASSERT_TRUE(readyz) << "probe " << i << " not answered";
    EXPECT_EQ(readyz->result_int(), 200);
    EXPECT_EQ(json::parse(readyz->body())["ready"], true);
  }
  // The oldest were shed, the newest kept; nothing was refused.
  EXPECT_GE(metric_value(metrics.scrape(), shed).value_or(0), kFlood - 256);
  EXPECT_TRUE(flood.front().wait_closed(5s));
  EXPECT_TRUE(flood[kFlood - 256 - 1].wait_closed(5s));
  EXPECT_EQ(metric_value(metrics.scrape(), refused), 0);
  EXPECT_EQ(flood.back().request("GET", "/healthz")->result_int(), 200);
}

TEST_F(HealthListenerTest, StopStopsAcceptingAndReportsWhenDone) {
  const std::uint16_t port = listener->port();
  std::promise<void> stopped;
  listener->stop([&] { stopped.set_value(); });
  ASSERT_EQ(stopped.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_FALSE(TestClient::tcp("127.0.0.1", port).connected());
}

}  // namespace
}  // namespace tw::testing
