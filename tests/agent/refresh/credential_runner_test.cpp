// CredentialRunner on simulated time: the loop that runs RefreshState --
// the first fetch at once, the next at the refresh time, exponential backoff
// and Retry-After on failures, the last good value kept, a fetch asked for
// while one is in flight done right after it -- with a scripted source and
// fetches run when the test says, never a sleep.
#include <gtest/gtest.h>

#include <deque>

#include "agent/api/api_test_support.hpp"
#include "tokenwell/agent/common/simulated_time.hpp"
#include "tokenwell/agent/refresh/credential_runner.hpp"

namespace tw {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

constexpr std::int64_t kStart = 1'700'000'000;

// uniform() gives 0.5: jitter sample 0, backoff halfway up its range.
class HalfRandom final : public RandomSource {
 public:
  void fill(std::span<unsigned char> out) override {
    const std::uint64_t bits = (std::uint64_t{1} << 52) << 11;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(bits >> (8 * (i % 8)));
  }
};

// Answers fetches from a script; records when each fetch happened.
class ScriptedSource final : public CredentialSource {
 public:
  explicit ScriptedSource(const Clock& clock) : clock_(clock) {}
  FetchResult<FetchedCredential> fetch() override {
    fetched_at.push_back(clock_.unix_seconds());
    if (script.empty()) return FetchError{"script ran out", std::nullopt, 0};
    auto r = std::move(script.front());
    script.pop_front();
    return r;
  }
  std::deque<FetchResult<FetchedCredential>> script;
  std::vector<std::int64_t> fetched_at;

 private:
  const Clock& clock_;
};

FetchedCredential token(const std::string& value, std::int64_t issued, std::int64_t lifetime) {
  FetchedCredential c;
  c.token = Secret(value);
  c.username = "oid";
  c.issued_at = issued;
  c.expires_at = issued + lifetime;
  return c;
}

// What a file source returns: no lifetime.
FetchedCredential file_value(const std::string& value) {
  FetchedCredential c;
  c.token = Secret(value);
  c.username = "default";
  return c;
}

class CredentialRunnerTest : public ::testing::Test {
 protected:
  CredentialRunnerTest() {
    config.name = "redis";
    config.source = "entra";
    config.settings = EntraConfig{};
    config.refresh.retry_min = 1s;
    config.refresh.retry_max = 60s;
  }

  std::shared_ptr<CredentialRunner> make() {
    return std::make_shared<CredentialRunner>(
        config, source, CredentialRunner::Context{time, fetches, random, metrics},
        [this](const CredentialConfig&, const FetchedCredential& v) {
          published.emplace_back(std::string(v.token.reveal()));
        });
  }

  SimulatedTime time{Clock::time_point(seconds(kStart))};
  ManualFetchExecutor fetches;
  HalfRandom random;
  Metrics metrics{"test", time.clock()};
  CredentialConfig config;
  std::shared_ptr<ScriptedSource> source = std::make_shared<ScriptedSource>(time.clock());
  std::vector<std::string> published;
};

TEST_F(CredentialRunnerTest, FetchesAtOnceThenAtTheRefreshTime) {
  source->script.push_back(token("one", kStart, 3600));
  source->script.push_back(token("two", kStart + 2700, 3600));
  auto runner = make();
  runner->start();
  EXPECT_TRUE(published.empty()) << "the fetch runs on the executor, not inside start()";
  ASSERT_EQ(fetches.run_pending(), 1u);
  EXPECT_EQ(published, std::vector<std::string>{"one"});
  // Refresh at 75 % of the hour (jitter sample 0): 2700 s; the first token
  // after a start is spread over [issue, 2700 s] (sample 0.5): 1350 s.
  time.advance(1349s);
  EXPECT_EQ(fetches.run_pending(), 0u);
  time.advance(1s);
  ASSERT_EQ(fetches.run_pending(), 1u);
  EXPECT_EQ(source->fetched_at, (std::vector<std::int64_t>{kStart, kStart + 1350}));
  EXPECT_EQ(published, (std::vector<std::string>{"one", "two"}));
}

TEST_F(CredentialRunnerTest, FailuresBackOffExponentiallyAndKeepTheLastGoodValue) {
  source->script.push_back(token("good", kStart, 3600));
  auto runner = make();
  runner->start();
  fetches.run_pending();
  // The next fetch (at 2700 s) and every one after it fail: the script ran out.
  time.advance(2700s);
  std::vector<std::int64_t> waits_ms;
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(fetches.run_pending(), 1u);
    const auto before = time.clock().unix_millis();
    ASSERT_TRUE(time.fire_next());  // the retry timer
    waits_ms.push_back(time.clock().unix_millis() - before);
  }
  // Full jitter halfway: retry_min + (min(retry_max, retry_min * 2^(n-1)) - retry_min) / 2.
  EXPECT_EQ(waits_ms, (std::vector<std::int64_t>{1000, 1500, 2500, 4500, 8500, 16500, 30500, 30500}));
  EXPECT_EQ(runner->state().consecutive_failures(), 8u);
  ASSERT_TRUE(runner->state().current());
  EXPECT_EQ(runner->state().current()->token.reveal(), "good");
  EXPECT_EQ(published, std::vector<std::string>{"good"});
}

TEST_F(CredentialRunnerTest, RetryAfterIsObeyed) {
  source->script.push_back(FetchError{"HTTP 429", seconds(120), 429});
  source->script.push_back(token("late", kStart + 120, 3600));
  auto runner = make();
  runner->start();
  fetches.run_pending();
  // Retry-After, then the jittered backoff (halfway between retry_min and
  // the first cap, 1 s), so a fleet told the same Retry-After spreads out.
  time.advance(120s);
  EXPECT_EQ(fetches.run_pending(), 0u) << "retried before Retry-After and its backoff";
  time.advance(1s);
  EXPECT_EQ(fetches.run_pending(), 1u);
  EXPECT_EQ(published, std::vector<std::string>{"late"});
}

// Runs fetches and timers until the source has been asked `n` times.
void run_until_fetched(ManualFetchExecutor& fetches, SimulatedTime& time, const ScriptedSource& source,
                       std::size_t n) {
  for (int i = 0; i < 100 && source.fetched_at.size() < n; ++i) {
    if (fetches.run_pending() == 0) {
      ASSERT_TRUE(time.fire_next());
    }
  }
  ASSERT_EQ(source.fetched_at.size(), n);
}

// Issue 11: `Retry-After: 999999999` (the Entra source caps what it parses at
// a day) put the next try a day away. With a token that stays usable longer
// than refresh.retry_after_max the runner waits retry_after_max (then its
// backoff) and says so in the log.
TEST_F(CredentialRunnerTest, AHugeRetryAfterIsClampedToRetryAfterMaxAndLogged) {
  for (const auto retry_after_max : {std::chrono::milliseconds(30s), RefreshSettings{}.retry_after_max}) {
    SCOPED_TRACE(retry_after_max.count());
    config.refresh.retry_after_max = retry_after_max;
    source = std::make_shared<ScriptedSource>(time.clock());
    published.clear();
    const std::int64_t t0 = time.clock().unix_seconds();
    // Expires at t0 + 20 m, usable (min_remaining 5 m) until t0 + 15 m; due
    // for a refresh at once.
    source->script.push_back(token("usable-15m", t0 - 3000, 4200));
    source->script.push_back(FetchError{"HTTP 429", seconds(999'999'999), 429});
    source->script.push_back(token("fresh", t0, 3600));
    testing::LogCapture log;
    auto runner = make();
    runner->start();
    run_until_fetched(fetches, time, *source, 3);
    const std::int64_t throttled_at = source->fetched_at[1];
    const std::int64_t retried_at = source->fetched_at[2];
    EXPECT_EQ(retried_at - throttled_at,
              std::chrono::duration_cast<seconds>(retry_after_max + config.refresh.retry_min).count());
    EXPECT_EQ(published.back(), "fresh");
    EXPECT_NE(log.text().find("Retry-After is longer than refresh.retry_after_max"), std::string::npos) << log.text();
    runner->stop();
  }
}

// Review of the clamp above: with 40 s of a token left and `Retry-After: 300`
// under a retry_after_max of 10 m, the next attempt came after the token
// expired, though the IdP might have answered in time. A Retry-After never
// holds the attempt past the moment the value becomes unusable (expiry minus
// min_remaining; here already passed, so the backoff alone), and the log
// says why it was shortened.
TEST_F(CredentialRunnerTest, ARetryAfterOutlastingTheTokenIsCutSoItIsRetriedBeforeItExpires) {
  config.refresh.retry_after_max = 10min;
  const std::int64_t t0 = time.clock().unix_seconds();
  source->script.push_back(token("40s-left", t0 - 3560, 3600));  // expires at t0 + 40
  source->script.push_back(FetchError{"HTTP 429", seconds(300), 429});
  source->script.push_back(token("fresh", t0 + 1, 3600));
  testing::LogCapture log;
  auto runner = make();
  runner->start();
  run_until_fetched(fetches, time, *source, 3);
  EXPECT_EQ(source->fetched_at[1], t0);
  EXPECT_EQ(source->fetched_at[2], t0 + 1) << "retry_min after the 429, not Retry-After's 300 s";
  EXPECT_EQ(published, (std::vector<std::string>{"40s-left", "fresh"}));
  EXPECT_NE(log.text().find("Retry-After would hold the next attempt past the moment the value served becomes "
                            "unusable (expiry minus refresh.min_remaining)"),
            std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find("retry_after_s=300 waiting_s=0.0 expires_in_s=40.0"), std::string::npos) << log.text();
  EXPECT_EQ(log.text().find("Retry-After is longer than refresh.retry_after_max"), std::string::npos)
      << "300 s is under retry_after_max: " << log.text();
  runner->stop();
}

TEST_F(CredentialRunnerTest, AChangeDuringAFetchFetchesAgainRightAfterIt) {
  config.source = "file";
  config.settings = FileSourceConfig{"/run/secrets/redis", "default"};
  source->script.push_back(file_value("v1"));
  source->script.push_back(file_value("v2"));
  auto runner = make();
  EXPECT_EQ(runner->watched_directory(), std::filesystem::path("/run/secrets"));
  runner->start();
  runner->on_directory_changed();  // while the first fetch is out
  EXPECT_EQ(fetches.run_pending(), 2u) << "one fetch, then exactly one more";
  EXPECT_EQ(published, (std::vector<std::string>{"v1", "v2"}));
  // A file source is not refreshed on a timer.
  EXPECT_EQ(time.armed_timers(), 0u);
}

TEST_F(CredentialRunnerTest, AFetchThatReturnsAfterStopIsDropped) {
  source->script.push_back(token("late", kStart, 3600));
  auto runner = make();
  runner->start();
  runner->stop();
  fetches.run_pending();
  EXPECT_TRUE(published.empty());
  EXPECT_EQ(time.armed_timers(), 0u);
}

TEST_F(CredentialRunnerTest, ReportsEachOutcome) {
  source->script.push_back(FetchError{"down", std::nullopt, 503});
  source->script.push_back(token("up", kStart + 1, 3600));
  auto runner = make();
  std::vector<bool> outcomes;
  runner->on_outcome([&](bool ok) { outcomes.push_back(ok); });
  runner->start();
  fetches.run_pending();
  time.fire_next();
  fetches.run_pending();
  EXPECT_EQ(outcomes, (std::vector<bool>{false, true}));
}

}  // namespace
}  // namespace tw
