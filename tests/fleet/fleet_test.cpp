// The fleet properties docs/fleet.md shows at 10,000 pods, asserted at 2,000
// for the `rollout` and `outage-5m` presets: tokenwell's shipped refresh
// decisions must keep them, and one client-library policy per property shows
// that the property can fail. Simulated time, fixed seed: deterministic.
#include <gtest/gtest.h>

#include "fleet.hpp"

namespace tw::fleet {
namespace {

constexpr unsigned kPods = 2'000;

Result run(const std::string& preset_name, PolicyKind kind) {
  return simulate(preset(preset_name, kPods), policy(kind));
}

// 2,000 pods make ~36 requests a minute, whose Poisson noise alone puts the
// busiest of 360 minutes near 1.5x the mean; over 5-minute bins the noise is
// ~7 % and a wave (the anchors' lasts ~20 minutes) still stands out.
constexpr Ms kBin = 5 * kMinute;

TEST(FleetRollout, RequestsStayWithinOneAndAHalfTimesTheMean) {
  const Result r = run("rollout", PolicyKind::tokenwell);
  EXPECT_LE(peak_over_mean(r, kBin), 1.5) << "the first refresh after a rollout comes back as a wave";
  EXPECT_EQ(r.expired_while_up, 0u);
  EXPECT_GT(r.mean_per_min, 0);
}

TEST(FleetRollout, RefreshingAtAFixedRatioComesBackAsAWave) {
  const Result r = run("rollout", PolicyKind::node_redis);
  EXPECT_GT(peak_over_mean(r, kBin), 1.5);
}

TEST(FleetOutage5m, EveryPodRecoversWithinTenSecondsAndTheIdpIsNotStormed) {
  const Result r = run("outage-5m", PolicyKind::tokenwell);
  EXPECT_EQ(r.expired_while_up, 0u) << "no token may expire while the IdP is up";
  ASSERT_GT(r.recovering, kPods / 4) << "the outage must leave pods without a token";
  EXPECT_EQ(r.unrecovered, 0u);
  EXPECT_LE(r.recovery_p99_s, 10.0);
  EXPECT_LE(r.outage_requests_per_pod_min, 8.0);
}

TEST(FleetOutage5m, ProcessesRetryingOnTheirOwnStormTheIdp) {
  const Result r = run("outage-5m", PolicyKind::node_redis);
  EXPECT_GT(r.outage_requests_per_pod_min, 8.0);
}

}  // namespace
}  // namespace tw::fleet
