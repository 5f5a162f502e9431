// The refresh engine's decisions on simulated time: schedule after success,
// backoff after failures, Retry-After, nothing lost on failure.
#include <gtest/gtest.h>

#include <cstring>

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
  FixedRandom mid{0.5};  // jitter sample 0 (of [-1, 1]), backoff halfway
  RefreshSettings settings;
};

TEST_F(RefreshStateTest, FirstFetchIsImmediate) {
  RefreshState s(settings, mid);
  EXPECT_EQ(s.start(at(kNow)), at(kNow));
}

TEST_F(RefreshStateTest, SuccessPublishesAndSchedulesAtRatio) {
  RefreshState s(settings, mid);
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
  RefreshState s(settings, mid);
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

TEST_F(RefreshStateTest, RetryAfterIsObeyed) {
  RefreshState s(settings, mid);
  auto step = s.on_result(http_error(429, 120s), at(kNow));
  EXPECT_EQ(step.next_attempt, at(kNow + 120));
}

TEST_F(RefreshStateTest, SuccessResetsBackoff) {
  RefreshState s(settings, mid);
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
  RefreshState s(settings, mid);
  FetchedCredential c = token(kNow, 86400);
  c.refresh_in = 3600;
  auto step = s.on_result(std::move(c), at(kNow));
  EXPECT_EQ(step.next_attempt, at(kNow + 3600));
}

TEST_F(RefreshStateTest, JitterSpreadsAFleet) {
  FixedRandom low{0.0}, high{0.999999};
  RefreshState a(settings, low), b(settings, high);
  auto sa = a.on_result(token(kNow, 3600), at(kNow));
  auto sb = b.on_result(token(kNow, 3600), at(kNow));
  EXPECT_EQ(sa.next_attempt, at(kNow + 2700 - 180));
  EXPECT_NEAR(std::chrono::duration<double>(sb.next_attempt - at(kNow)).count(), 2700 + 180, 0.01);
}

}  // namespace
}  // namespace tw
