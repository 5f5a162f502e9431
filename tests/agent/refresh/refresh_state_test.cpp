// The refresh engine's decisions on simulated time: schedule after success,
// backoff after failures, Retry-After, nothing lost on failure.
#include <gtest/gtest.h>

#include <cstring>

#include "tokenwell/agent/refresh/entry_runner.hpp"
#include "tokenwell/agent/refresh/refresh_state.hpp"

namespace tw {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

// Returns the same 64-bit pattern every time: uniform() gives `unit`.
class FixedRandom final : public RandomSource {
 public:
  explicit FixedRandom(double unit) : bits_(static_cast<std::uint64_t>(unit * 0x1.0p53) << 11) {}
  void fill(std::span<unsigned char> out) override {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(bits_ >> (8 * (i % 8)));
  }

 private:
  std::uint64_t bits_;
};

const std::int64_t kNow = 1'700'000'000;
TimePoint at(std::int64_t unix) { return TimePoint(seconds(unix)); }

FetchedCredential token(std::int64_t issued, std::int64_t lifetime) {
  FetchedCredential c;
  c.token = Secret("t" + std::to_string(issued));
  c.username = "oid";
  c.issued_at = issued;
  c.expires_at = issued + lifetime;
  return c;
}

FetchError http_error(int status, std::optional<seconds> retry_after = std::nullopt) {
  return FetchError{"HTTP " + std::to_string(status), retry_after, status};
}

class RefreshStateTest : public ::testing::Test {
 protected:
  // A state that has been running: its first token (whose refresh is
  // spread) fetched an hour ago, so the next success is a plain refresh.
  RefreshState running(RandomSource& random) {
    RefreshState s(settings, random);
    (void)s.on_result(token(kNow - 3600, 7200), at(kNow - 3600));
    return s;
  }

  FixedRandom mid{0.5};  // jitter sample 0 (of [-1, 1]), backoff and spread halfway
  RefreshSettings settings;
};

TEST_F(RefreshStateTest, FirstFetchIsImmediate) {
  RefreshState s(settings, mid);
  EXPECT_EQ(s.start(at(kNow)), at(kNow));
}

TEST_F(RefreshStateTest, SuccessPublishesAndSchedulesAtRatio) {
  RefreshState s = running(mid);
  auto step = s.on_result(token(kNow, 3600), at(kNow));
  EXPECT_TRUE(step.publish);
  EXPECT_EQ(step.next_attempt, at(kNow + 2700));
  ASSERT_TRUE(s.current());
  EXPECT_EQ(s.current()->token.reveal(), "t" + std::to_string(kNow));
}

TEST_F(RefreshStateTest, FailureKeepsLastGoodCredential) {
  RefreshState s(settings, mid);
  (void)s.on_result(token(kNow, 20), at(kNow));
  auto step = s.on_result(http_error(500), at(kNow + 15));
  EXPECT_FALSE(step.publish);
  ASSERT_TRUE(s.current());
  EXPECT_TRUE(s.has_valid(at(kNow + 19)));
  EXPECT_FALSE(s.has_valid(at(kNow + 20))) << "served until, not past, its expiry";
  EXPECT_EQ(s.consecutive_failures(), 1u);
  ASSERT_TRUE(s.last_error());
  EXPECT_EQ(s.last_error()->http_status, 500);
}

TEST_F(RefreshStateTest, BackoffGrowsAndNeverStops) {
  RefreshState s = running(mid);  // its token is valid for another hour
  std::chrono::milliseconds previous{0};
  for (int i = 1; i <= 100; ++i) {
    auto step = s.on_result(http_error(503), at(kNow));
    EXPECT_FALSE(step.publish);
    EXPECT_GE(step.delay, previous) << "attempt " << i;
    EXPECT_LE(step.delay, settings.retry_max);
    EXPECT_GE(step.delay, settings.retry_min);
    previous = step.delay;
  }
  EXPECT_EQ(s.consecutive_failures(), 100u);
  EXPECT_EQ(previous, 30500ms) << "halfway between retry_min and retry_max";
}

TEST_F(RefreshStateTest, RetryAfterIsObeyedThenTheBackoff) {
  RefreshState s(settings, mid);
  auto step = s.on_result(http_error(429, 120s), at(kNow));
  EXPECT_EQ(step.next_attempt, at(kNow + 121)) << "Retry-After, then retry_min (first failure)";
}

TEST_F(RefreshStateTest, RetryAfterLongerThanRetryAfterMaxIsClamped) {
  RefreshState s(settings, mid);
  auto step = s.on_result(http_error(503, 86400s), at(kNow));
  EXPECT_EQ(step.next_attempt, at(kNow + 301)) << "retry_after_max 5 m, then retry_min";
}

// Review of issue 11's clamp: with 40 s of a token left and `Retry-After:
// 300` under a retry_after_max of 10 m, the next attempt came after the token
// expired. A Retry-After never holds the attempt past the moment the value
// served becomes unusable (expiry minus min_remaining); the backoff stays.
TEST_F(RefreshStateTest, RetryAfterNeverHoldsTheAttemptPastTheUsableValue) {
  settings.retry_after_max = 10min;
  RefreshState s = running(mid);  // expires at kNow + 3600; min_remaining 5 m
  // 40 s left, inside min_remaining already: the backoff alone (first
  // failure: retry_min), so the IdP may still answer in time.
  auto step = s.on_result(http_error(429, 300s), at(kNow + 3600 - 40));
  EXPECT_EQ(step.next_attempt, at(kNow + 3600 - 39));
  ASSERT_TRUE(step.retry_after);
  EXPECT_EQ(step.retry_after->limit, HonouredRetryAfter::Limit::value_usable);
  EXPECT_EQ(step.retry_after->wait, 0ms);

  // 10 m left (5 m before min_remaining begins), Retry-After 9 m: the attempt
  // comes when the value becomes unusable, not 4 m after it.
  RefreshState t = running(mid);
  step = t.on_result(http_error(429, 540s), at(kNow + 3600 - 600));
  EXPECT_EQ(step.next_attempt, at(kNow + 3600 - 300));
  EXPECT_EQ(step.retry_after->wait, 299s) << "the rest of the 300 s is the backoff (retry_min)";
  EXPECT_EQ(step.retry_after->limit, HonouredRetryAfter::Limit::value_usable);

  // A Retry-After that ends in time is waited in full, then the backoff.
  RefreshState u = running(mid);
  step = u.on_result(http_error(429, 120s), at(kNow + 3600 - 600));
  EXPECT_EQ(step.next_attempt, at(kNow + 3600 - 600 + 121));
  EXPECT_EQ(step.retry_after->limit, HonouredRetryAfter::Limit::none);
}

TEST_F(RefreshStateTest, WithNoValidValueLeftRetryAfterMaxAloneBoundsTheWait) {
  settings.retry_after_max = 10min;
  RefreshState s = running(mid);  // expires at kNow + 3600
  auto step = s.on_result(http_error(429, 300s), at(kNow + 3600));
  EXPECT_EQ(step.next_attempt, at(kNow + 3600 + 301)) << "nothing left to keep: Retry-After, then retry_min";
  EXPECT_EQ(step.retry_after->limit, HonouredRetryAfter::Limit::none);
  RefreshState fresh(settings, mid);
  step = fresh.on_result(http_error(429, 3600s), at(kNow));
  EXPECT_EQ(step.next_attempt, at(kNow + 601));
  EXPECT_EQ(step.retry_after->limit, HonouredRetryAfter::Limit::retry_after_max);
}

TEST_F(RefreshStateTest, WithoutAnyValueTheBackoffStopsAtRetryMaxExpired) {
  RefreshState s(settings, mid);
  std::chrono::milliseconds longest{0};
  for (int i = 0; i < 100; ++i) longest = std::max(longest, s.on_result(http_error(503), at(kNow)).delay);
  EXPECT_EQ(longest, 4500ms) << "halfway between retry_min and retry_max_expired (8 s)";
}

TEST_F(RefreshStateTest, AnExpiredValueIsNoValueLeft) {
  RefreshState s = running(mid);  // expires at kNow + 3600
  std::chrono::milliseconds longest{0};
  for (int i = 0; i < 100; ++i) longest = std::max(longest, s.on_result(http_error(503), at(kNow + 4000)).delay);
  EXPECT_EQ(longest, 4500ms);
  EXPECT_TRUE(s.current()) << "still kept";
}

TEST_F(RefreshStateTest, InsideMinRemainingIsNoValueLeft) {
  RefreshState s = running(mid);  // expires at kNow + 3600; min_remaining 5 m
  EXPECT_TRUE(s.has_value_left(at(kNow + 3600 - 301)));
  EXPECT_FALSE(s.has_value_left(at(kNow + 3600 - 300)));
  std::chrono::milliseconds longest{0};
  for (int i = 0; i < 100; ++i)
    longest = std::max(longest, s.on_result(http_error(503), at(kNow + 3600 - 100)).delay);
  EXPECT_EQ(longest, 4500ms);
}

TEST_F(RefreshStateTest, MinRemainingLongerThanTheLifetimeDoesNotCount) {
  // 20 s tokens, min_remaining 5 m: as in next_refresh_time, only expiry
  // counts, or every failure of a short token would be "no value left".
  RefreshState s(settings, mid);
  (void)s.on_result(token(kNow, 20), at(kNow));
  EXPECT_TRUE(s.has_value_left(at(kNow + 15)));
  EXPECT_FALSE(s.has_value_left(at(kNow + 20)));
}

// Issue 13: a restarted agent takes over the value the previous one
// published and refreshes it on its lifetime's schedule, not at once.
TEST_F(RefreshStateTest, AdoptedValueIsCurrentAndRefreshedAtItsRatio) {
  RefreshState s(settings, mid);
  const auto next = s.adopt(token(kNow - 600, 3600), at(kNow));
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, at(kNow - 600 + 2700));  // 75% of its life, jitter sample 0
  ASSERT_TRUE(s.current());
  EXPECT_EQ(s.current()->token.reveal(), "t" + std::to_string(kNow - 600));
  EXPECT_TRUE(s.has_valid(at(kNow)));
  EXPECT_EQ(s.consecutive_failures(), 0u);
}

TEST_F(RefreshStateTest, AdoptedValuePastItsRefreshTimeOrInsideMinRemainingIsRefreshedAtOnce) {
  RefreshState late(settings, mid);
  EXPECT_EQ(late.adopt(token(kNow - 3000, 3600), at(kNow)), at(kNow));  // refresh was due at -300
  RefreshState margin(settings, mid);
  EXPECT_EQ(margin.adopt(token(kNow - 3400, 3600), at(kNow)), at(kNow));  // 200 s left < 5 m
  EXPECT_TRUE(margin.has_valid(at(kNow)));                                 // but served meanwhile
}

TEST_F(RefreshStateTest, ExpiredOrNeverExpiringValuesAreNotAdopted) {
  RefreshState expired(settings, mid);
  EXPECT_FALSE(expired.adopt(token(kNow - 3600, 3600), at(kNow)));
  EXPECT_FALSE(expired.current());
  FetchedCredential forever = token(kNow - 10, 0);
  forever.expires_at = 0;
  RefreshState never(settings, mid);
  EXPECT_FALSE(never.adopt(forever, at(kNow)));
  EXPECT_FALSE(never.current());
}

TEST_F(RefreshStateTest, FirstTokenRefreshIsSpreadOverItsWindow) {
  // A rollout: every pod fetches its first token at once; the refresh point
  // is uniform between issue and the usual 75 %, not a wave at 75 %.
  FixedRandom low{0.2}, high{0.999999};
  RefreshState a(settings, low), b(settings, high);
  auto sa = a.on_result(token(kNow, 3600), at(kNow));
  auto sb = b.on_result(token(kNow, 3600), at(kNow));
  // low: jitter sample -0.6 -> 2700 - 108 = 2592 s, spread 0.2 of it
  EXPECT_NEAR(std::chrono::duration<double>(sa.next_attempt - at(kNow)).count(), 2592 * 0.2, 0.01);
  EXPECT_NEAR(std::chrono::duration<double>(sb.next_attempt - at(kNow)).count(), 2880, 0.1);
}

TEST_F(RefreshStateTest, RefreshAfterFailuresIsSpread) {
  // The IdP is back: every pod that was retrying succeeds within seconds.
  RefreshState s = running(mid);
  (void)s.on_result(http_error(503), at(kNow));
  auto step = s.on_result(token(kNow + 5, 3600), at(kNow + 5));
  EXPECT_EQ(step.next_attempt, at(kNow + 5 + 1350)) << "halfway to 2700 s";
  step = s.on_result(token(kNow + 1355, 3600), at(kNow + 1355));
  EXPECT_EQ(step.next_attempt, at(kNow + 1355 + 2700)) << "then the ratio again";
}

TEST_F(RefreshStateTest, SuccessResetsBackoff) {
  RefreshState s = running(mid);
  for (int i = 0; i < 5; ++i) (void)s.on_result(http_error(500), at(kNow));
  (void)s.on_result(token(kNow, 3600), at(kNow));
  EXPECT_EQ(s.consecutive_failures(), 0u);
  EXPECT_FALSE(s.last_error());
  auto step = s.on_result(http_error(500), at(kNow + 2700));
  EXPECT_LE(step.delay, 1s) << "backoff starts again from retry_min";
}

TEST_F(RefreshStateTest, ExpiredTokenFromIdpIsAFailureNotAPublish) {
  RefreshState s(settings, mid);
  (void)s.on_result(token(kNow, 3600), at(kNow));
  auto step = s.on_result(token(kNow - 100, 50), at(kNow + 10));
  EXPECT_FALSE(step.publish);
  EXPECT_EQ(s.current()->issued_at, kNow) << "the good token stays";
  EXPECT_EQ(s.consecutive_failures(), 1u);
}

TEST_F(RefreshStateTest, NonExpiringCredentialIsNotRefreshedOnATimer) {
  RefreshState s(settings, mid);
  FetchedCredential c = token(kNow, 0);
  c.expires_at = 0;
  auto step = s.on_result(std::move(c), at(kNow));
  EXPECT_TRUE(step.publish);
  EXPECT_EQ(step.next_attempt, TimePoint::max());
}

TEST_F(RefreshStateTest, RefreshInFromTheIdpIsHonoured) {
  RefreshState s = running(mid);
  FetchedCredential c = token(kNow, 86400);
  c.refresh_in = 3600;
  auto step = s.on_result(std::move(c), at(kNow));
  EXPECT_EQ(step.next_attempt, at(kNow + 3600));
}

TEST_F(RefreshStateTest, JitterSpreadsAFleet) {
  FixedRandom low{0.0}, high{0.999999};
  RefreshState a = running(low), b = running(high);
  auto sa = a.on_result(token(kNow, 3600), at(kNow));
  auto sb = b.on_result(token(kNow, 3600), at(kNow));
  EXPECT_EQ(sa.next_attempt, at(kNow + 2700 - 180));
  EXPECT_NEAR(std::chrono::duration<double>(sb.next_attempt - at(kNow)).count(), 2700 + 180, 0.01);
}

}  // namespace
}  // namespace tw

namespace tw {
namespace {

// What `tokenwell status` shows of an error: one bounded line, no JWT.
TEST(StatusErrorText, OneBoundedLineWithoutAnythingShapedLikeAJwt) {
  const std::string jwt = "eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
  EXPECT_EQ(status_error_text("HTTP 400: bad token " + jwt + " (AADSTS50027)"),
            "HTTP 400: bad token [redacted] (AADSTS50027)");
  EXPECT_EQ(status_error_text("line one\nline two\r\n"), "line one line two");
  EXPECT_EQ(status_error_text("eyJshort"), "eyJshort");  // too short to be a token
  const std::string long_text = std::string(290, 'x') + "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" + std::string(100, 'y');
  const std::string cut = status_error_text(long_text);
  EXPECT_LE(cut.size(), kStatusErrorBytes);
  EXPECT_TRUE(cut.ends_with("..."));
  EXPECT_NE(static_cast<unsigned char>(cut[cut.size() - 4]), 0xc3) << "cut inside a UTF-8 sequence";
}

}  // namespace
}  // namespace tw
