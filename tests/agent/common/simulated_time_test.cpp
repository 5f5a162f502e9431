// SimulatedTime: timers fire in deadline order at their own time, a re-arm
// replaces the pending one, a cancelled or destroyed timer never fires, and
// callbacks can be handed to another thread's loop.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "tokenwell/agent/common/simulated_time.hpp"

namespace tw {
namespace {

using namespace std::chrono_literals;

TEST(SimulatedTime, FiresDueTimersInDeadlineOrderAtTheirOwnTime) {
  SimulatedTime time;
  const auto t0 = time.clock().now();
  std::vector<std::pair<std::string, std::chrono::nanoseconds>> fired;
  auto record = [&](std::string name) { return [&, name] { fired.emplace_back(name, time.clock().now() - t0); }; };
  auto late = time.create_timer(record("late"));
  auto early = time.create_timer(record("early"));
  late->arm(30s);
  early->arm(10s);
  EXPECT_EQ(time.armed_deadlines(), (std::vector<std::chrono::nanoseconds>{10s, 30s}));
  time.advance(29s);
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0], (std::pair<std::string, std::chrono::nanoseconds>{"early", 10s}));
  time.advance(1s);
  ASSERT_EQ(fired.size(), 2u);
  EXPECT_EQ(fired[1].first, "late");
  EXPECT_EQ(time.clock().now() - t0, 30s);
  EXPECT_EQ(time.clock().monotonic_now().time_since_epoch(), 30s);
}

TEST(SimulatedTime, ATimerArmedByACallbackFiresInTheSameAdvance) {
  SimulatedTime time;
  int ticks = 0;
  std::unique_ptr<Timer> tick;
  tick = time.create_timer([&] {
    ++ticks;
    tick->arm(1s);
  });
  tick->arm(1s);
  time.advance(10s);
  EXPECT_EQ(ticks, 10);
}

TEST(SimulatedTime, ReArmReplacesAndCancelOrDestroyPrevents) {
  SimulatedTime time;
  int fired = 0;
  auto t = time.create_timer([&] { ++fired; });
  t->arm(5s);
  t->arm(20s);
  time.advance(10s);
  EXPECT_EQ(fired, 0) << "the first arm was replaced";
  EXPECT_TRUE(t->armed());
  t->cancel();
  EXPECT_FALSE(t->armed());
  time.advance(20s);
  EXPECT_EQ(fired, 0);
  t->arm(1s);
  t.reset();
  EXPECT_FALSE(time.fire_next()) << "a destroyed timer is gone";
}

TEST(SimulatedTime, CallbacksCanBePostedToALoop) {
  std::vector<std::function<void()>> loop;
  SimulatedTime time(Clock::time_point(std::chrono::seconds(1'700'000'000)),
                     [&](std::function<void()> f) { loop.push_back(std::move(f)); });
  int fired = 0;
  auto t = time.create_timer([&] { ++fired; });
  t->arm(1s);
  time.advance(1s);
  EXPECT_EQ(fired, 0) << "handed to the loop, not run in advance()";
  ASSERT_EQ(loop.size(), 1u);
  loop.front()();
  EXPECT_EQ(fired, 1);
}

TEST(ArmAt, ArmsForAWallClockTimeAndMaxDisarms) {
  SimulatedTime time;
  int fired = 0;
  auto t = time.create_timer([&] { ++fired; });
  arm_at(*t, time.clock(), time.clock().now() + 90s);
  EXPECT_EQ(time.next_timer_in(), std::optional<std::chrono::nanoseconds>(90s));
  arm_at(*t, time.clock(), Clock::time_point::max());
  EXPECT_FALSE(t->armed());
  arm_at(*t, time.clock(), time.clock().now() - 5s);  // in the past: at once
  time.advance(0s);
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace tw
