// The keyset runners on simulated time: a JWKS keyset fetched at once, again
// at its Cache-Control max-age, refetches on demand rate-limited by the
// cooldown, failures backed off; a generated keyset rotating on schedule.
// Fetches run when the test says (ManualFetchExecutor), HTTP is scripted.
#include <gtest/gtest.h>

#include <deque>

#include "tokenwell/agent/common/simulated_time.hpp"
#include "tokenwell/agent/keysets/jwk.hpp"
#include "tokenwell/agent/keysets/keyset_runner.hpp"

namespace tw {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

constexpr std::int64_t kStart = 1'700'000'000;

// The top of every jitter range: backoff waits its whole ceiling.
class TopRandom final : public RandomSource {
 public:
  void fill(std::span<unsigned char> out) override {
    for (auto& b : out) b = 0xff;
  }
};

// Every client it makes answers from one script and records the URLs asked.
class ScriptedHttp final : public HttpClientFactory {
 public:
  struct Client final : HttpClient {
    explicit Client(ScriptedHttp& script_owner) : owner(script_owner) {}
    Result<HttpResponse> send(const HttpRequest& request) override {
      owner.urls.push_back(request.url);
      if (owner.script.empty()) return make_error("connection refused");
      HttpResponse r = std::move(owner.script.front());
      owner.script.pop_front();
      return r;
    }
    ScriptedHttp& owner;
  };
  std::shared_ptr<HttpClient> create(const HttpClientOptions&) override { return std::make_shared<Client>(*this); }

  void answer(int status, std::string body, std::vector<HttpHeader> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = Secret(std::move(body));
    r.headers = std::move(headers);
    script.push_back(std::move(r));
  }
  std::deque<HttpResponse> script;
  std::vector<std::string> urls;
};

std::string jwks_of_new_key() {
  auto key = generate_jwk(KeyAlgorithm::ES256);
  EXPECT_TRUE(key);
  return jwks_json({key->public_jwk});
}

class KeysetRunnerTest : public ::testing::Test {
 protected:
  std::shared_ptr<EntryRunner> make(KeysetSettings settings, std::optional<KeysetValue> previous = {}) {
    KeysetConfig config;
    config.name = "keys";
    config.source = std::holds_alternative<JwksKeysetConfig>(settings) ? "jwks" : "generated";
    config.settings = std::move(settings);
    return make_keyset_runner(config, {time, fetches, random, metrics, http}, std::move(previous),
                              [this](const KeysetConfig&, const KeysetValue& v) { published.push_back(v.jwks); });
  }
  static JwksKeysetConfig jwks_config() {
    JwksKeysetConfig c;
    c.jwks_uri = "https://idp.example/keys";
    c.cooldown = 30s;
    c.retry_min = 1s;
    c.retry_max = 60s;
    return c;
  }

  SimulatedTime time{Clock::time_point(seconds(kStart))};
  ManualFetchExecutor fetches;
  TopRandom random;
  Metrics metrics{"test", time.clock()};
  ScriptedHttp http;
  std::vector<std::string> published;
};

TEST_F(KeysetRunnerTest, JwksIsFetchedAtOnceThenAtItsMaxAge) {
  const std::string first = jwks_of_new_key(), second = jwks_of_new_key();
  http.answer(200, first, {{"cache-control", "max-age=600"}});
  http.answer(200, second, {{"cache-control", "max-age=600"}});
  auto runner = make(jwks_config());
  runner->start();
  ASSERT_EQ(fetches.run_pending(), 1u);
  ASSERT_EQ(published.size(), 1u);
  time.advance(599s);
  EXPECT_EQ(fetches.run_pending(), 0u);
  time.advance(1s);
  EXPECT_EQ(fetches.run_pending(), 1u);
  EXPECT_EQ(published.size(), 2u);
  EXPECT_EQ(http.urls, (std::vector<std::string>{"https://idp.example/keys", "https://idp.example/keys"}));
}

TEST_F(KeysetRunnerTest, OnDemandRefetchesWaitForTheCooldown) {
  http.answer(200, jwks_of_new_key());
  http.answer(200, jwks_of_new_key());
  auto runner = make(jwks_config());
  runner->start();
  fetches.run_pending();
  time.advance(10s);
  const RefetchReply refused = runner->request_refetch();
  EXPECT_FALSE(refused.accepted);
  EXPECT_EQ(refused.retry_after, 20s);
  EXPECT_EQ(fetches.run_pending(), 0u);
  time.advance(20s);
  EXPECT_TRUE(runner->request_refetch().accepted);
  EXPECT_EQ(fetches.run_pending(), 1u);
  EXPECT_EQ(published.size(), 2u);
}

TEST_F(KeysetRunnerTest, JwksFailuresBackOffAndKeepTheLastSet) {
  http.answer(200, jwks_of_new_key(), {{"cache-control", "max-age=300"}});
  auto runner = make(jwks_config());
  std::vector<bool> outcomes;
  runner->on_outcome([&](bool ok) { outcomes.push_back(ok); });
  runner->start();
  fetches.run_pending();
  time.advance(300s);  // refresh: the script is empty, every fetch fails now
  std::vector<std::int64_t> waits_ms;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(fetches.run_pending(), 1u);
    const auto before = time.clock().unix_millis();
    ASSERT_TRUE(time.fire_next());
    waits_ms.push_back(time.clock().unix_millis() - before);
  }
  EXPECT_EQ(waits_ms, (std::vector<std::int64_t>{1000, 2000, 4000, 8000})) << "exponential backoff";
  EXPECT_EQ(published.size(), 1u) << "the last good set stays";
  EXPECT_EQ(outcomes, (std::vector<bool>{true, false, false, false, false}));
}

TEST_F(KeysetRunnerTest, GeneratedKeysRotateOnSchedule) {
  GeneratedKeysetConfig c;
  c.rotate_every = 1h;
  c.publish_ahead = 10min;
  c.retain = 2h;
  auto runner = make(c);
  runner->start();  // no fetch: the first key is made on the loop
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(fetches.run_pending(), 0u);
  // The successor is published ahead of its activation, then activates.
  while (time.clock().unix_seconds() < kStart + 3 * 3600) ASSERT_TRUE(time.fire_next());
  EXPECT_GE(published.size(), 4u);
  runner->stop();
  EXPECT_FALSE(time.fire_next()) << "stopped: no timer left";
}

}  // namespace
}  // namespace tw
