// The refresh schedule and backoff rules of DESIGN.md, one rule per test.
#include <gtest/gtest.h>

#include "tokenwell/agent/refresh/refresh_policy.hpp"

namespace tw {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

const TimePoint kIssued = TimePoint(seconds(1'700'000'000));

RefreshSettings no_jitter() {
  RefreshSettings s;
  s.jitter = 0;
  return s;
}

TEST(NextRefresh, AtRatioOfTheLifetime) {
  // 1 h token, min_remaining 5 m: 0.75 h = 45 m is before 55 m.
  EXPECT_EQ(next_refresh_time(no_jitter(), kIssued, kIssued + 1h, std::nullopt, 0),
            kIssued + 45min);
}

TEST(NextRefresh, NoLaterThanMinRemainingBeforeExpiry) {
  RefreshSettings s = no_jitter();
  s.min_remaining = 20min;  // 60 - 20 = 40 m < 45 m
  EXPECT_EQ(next_refresh_time(s, kIssued, kIssued + 1h, std::nullopt, 0), kIssued + 40min);
}

TEST(NextRefresh, MinRemainingLongerThanLifetimeFallsBackToRatio) {
  // 20 s test tokens with the default 5 m min_remaining: refresh at 15 s,
  // not immediately (which would hammer the IdP).
  EXPECT_EQ(next_refresh_time(no_jitter(), kIssued, kIssued + 20s, std::nullopt, 0),
            kIssued + 15s);
}

TEST(NextRefresh, HonoursSoonerRefreshIn) {
  EXPECT_EQ(next_refresh_time(no_jitter(), kIssued, kIssued + 24h, 1h, 0), kIssued + 1h);
}

TEST(NextRefresh, IgnoresLaterRefreshIn) {
  EXPECT_EQ(next_refresh_time(no_jitter(), kIssued, kIssued + 1h, 2h, 0), kIssued + 45min);
}

TEST(NextRefresh, JitterSpreadsByFractionOfLifetime) {
  RefreshSettings s;  // jitter 0.05 of 1 h = 3 m
  EXPECT_EQ(next_refresh_time(s, kIssued, kIssued + 1h, std::nullopt, 1.0), kIssued + 48min);
  EXPECT_EQ(next_refresh_time(s, kIssued, kIssued + 1h, std::nullopt, -1.0), kIssued + 42min);
  EXPECT_EQ(next_refresh_time(s, kIssued, kIssued + 1h, std::nullopt, 0.5),
            kIssued + 46min + 30s);
}

TEST(NextRefresh, AlwaysStrictlyInsideTheValidityWindow) {
  RefreshSettings s;
  s.ratio = 0.99;
  s.jitter = 0.5;
  for (double j : {-1.0, -0.5, 0.0, 0.5, 1.0}) {
    for (std::chrono::seconds life : {2s, 20s, 3600s}) {
      auto at = next_refresh_time(s, kIssued, kIssued + life, std::nullopt, j);
      EXPECT_GT(at, kIssued) << j;
      EXPECT_LT(at, kIssued + life) << j;
    }
  }
}

TEST(RetryDelay, GrowsExponentiallyUpToRetryMax) {
  RefreshSettings s;  // 1 s .. 60 s
  EXPECT_EQ(backoff_delay(s, 3, 1.0), 4s) << "retry_delay without a Retry-After";
  // unit_sample 1 = the ceiling of each step
  EXPECT_EQ(retry_delay(s, 1, std::nullopt, 1.0), 1s);
  EXPECT_EQ(retry_delay(s, 2, std::nullopt, 1.0), 2s);
  EXPECT_EQ(retry_delay(s, 3, std::nullopt, 1.0), 4s);
  EXPECT_EQ(retry_delay(s, 7, std::nullopt, 1.0), 60s);  // 64 s capped
  EXPECT_EQ(retry_delay(s, 1000, std::nullopt, 1.0), 60s);
}

TEST(RetryDelay, FullJitterBetweenRetryMinAndTheStepCeiling) {
  RefreshSettings s;
  EXPECT_EQ(retry_delay(s, 5, std::nullopt, 0.0), 1s);  // floor is retry_min
  EXPECT_EQ(retry_delay(s, 5, std::nullopt, 0.5), 8500ms);  // 1 + (16 - 1) / 2
}

TEST(RetryDelay, RetryAfterIsWaitedThenTheJitteredBackoff) {
  RefreshSettings s;
  // A fleet told the same Retry-After comes back spread over the backoff.
  EXPECT_EQ(retry_delay(s, 1, 30s, 0.0), 31s) << "30 s, then retry_min";
  EXPECT_EQ(retry_delay(s, 7, 5s, 0.0), 6s);
  EXPECT_EQ(retry_delay(s, 7, 5s, 1.0), 65s) << "5 s, then up to retry_max";
}

TEST(RetryDelay, RetryAfterIsClampedToRetryAfterMax) {
  RefreshSettings s;  // retry_after_max 5 m
  EXPECT_EQ(retry_delay(s, 1, 300s, 0.0), 301s);
  EXPECT_EQ(retry_delay(s, 1, 3600s, 0.0), 301s);
  s.retry_after_max = 2min;
  EXPECT_EQ(retry_delay(s, 1, 3600s, 0.0), 121s);
}

TEST(HonourRetryAfter, ClampedToRetryAfterMaxThenToTheRoomLeft) {
  RefreshSettings s;  // retry_after_max 5 m
  using Limit = HonouredRetryAfter::Limit;
  auto h = honour_retry_after(s, 30s);
  EXPECT_EQ(h.wait, 30s);
  EXPECT_EQ(h.limit, Limit::none);
  h = honour_retry_after(s, 3600s);
  EXPECT_EQ(h.wait, 300s);
  EXPECT_EQ(h.limit, Limit::retry_after_max);
  h = honour_retry_after(s, 3600s, 40s);
  EXPECT_EQ(h.wait, 40s) << "the room left wins over retry_after_max";
  EXPECT_EQ(h.limit, Limit::value_usable);
  h = honour_retry_after(s, 30s, 40s);
  EXPECT_EQ(h.wait, 30s) << "a Retry-After that fits is waited in full";
  EXPECT_EQ(h.limit, Limit::none);
  h = honour_retry_after(s, 30s, -5s);
  EXPECT_EQ(h.wait, 0s) << "never a negative wait: the backoff alone";
  EXPECT_EQ(h.limit, Limit::value_usable);
}

TEST(RetryDelay, WithNoValueLeftTheCapIsRetryMaxExpired) {
  RefreshSettings s;  // 1 s .. 60 s, 8 s once no valid value is left
  EXPECT_EQ(retry_delay(s, 7, std::nullopt, 1.0, /*value_left=*/true), 60s);
  EXPECT_EQ(retry_delay(s, 7, std::nullopt, 1.0, /*value_left=*/false), 8s);
  EXPECT_EQ(retry_delay(s, 1000, std::nullopt, 0.5, false), 4500ms) << "full jitter under the cap";
  EXPECT_EQ(retry_delay(s, 3, std::nullopt, 1.0, false), 4s) << "the doubling below the cap is the same";
}

TEST(RetryDelay, RetryMaxExpiredNeverRaisesTheCap) {
  RefreshSettings s;
  s.retry_max = 5s;  // below the default retry_max_expired
  EXPECT_EQ(retry_delay(s, 100, std::nullopt, 1.0, false), 5s);
}

TEST(SpreadRefresh, UniformBetweenIssueAndTheChosenPoint) {
  const TimePoint at = kIssued + 45min;
  EXPECT_EQ(spread_refresh_time(kIssued, at, 1.0), at);
  EXPECT_EQ(spread_refresh_time(kIssued, at, 0.5), kIssued + 22min + 30s);
  EXPECT_EQ(spread_refresh_time(kIssued, at, 0.0), kIssued + 27s) << "at least 1 % of the way";
  EXPECT_EQ(spread_refresh_time(kIssued, kIssued, 0.5), kIssued);
}

}  // namespace
}  // namespace tw
