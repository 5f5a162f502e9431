// simulated_time.hpp -- a TimeSource whose clock and timers move only when
// the caller advances them: unit tests of runners, reload and the HTTP
// limits, and simulators of a whole fleet, all without a sleep.
//
//   SimulatedTime time(Clock::time_point(std::chrono::seconds(1'700'000'000)));
//   CredentialRunner runner(..., time, ...);      // its timers are time's
//   runner.start();
//   time.advance(std::chrono::minutes(45));       // fires what falls due, in order
//
// By default a due timer's callback runs inside advance(), with the clock
// set to that timer's deadline. Given a `post` function (for example one that
// posts to an io_context served by another thread), advance() hands each due
// callback to it instead, so callbacks run on the loop's thread; the clock
// then stands at the end of the advance when they run.
// Thread-safe: advance() from a test thread, timers armed on the loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "tokenwell/agent/common/timer.hpp"

namespace tw {

class SimulatedTime final : public TimeSource {
 public:
  using Post = std::function<void(std::function<void()>)>;

  explicit SimulatedTime(Clock::time_point start = Clock::time_point(std::chrono::seconds(1'700'000'000)),
                         Post post = {});
  ~SimulatedTime() override;

  const Clock& clock() const override { return clock_; }
  std::unique_ptr<Timer> create_timer(std::function<void()> on_fire) override;

  // Moves time forward by `d`, firing every timer that falls due on the way
  // (those its callbacks arm included) in deadline order.
  void advance(std::chrono::nanoseconds d);
  // Moves time to the next armed timer and fires it; false when none is armed.
  bool fire_next();
  // How far ahead the next armed timer is, if any.
  std::optional<std::chrono::nanoseconds> next_timer_in() const;
  std::size_t armed_timers() const;
  // How far ahead each armed timer is, soonest first.
  std::vector<std::chrono::nanoseconds> armed_deadlines() const;

  struct TimerState;  // internal: one per Timer, shared with its pending fires

 private:
  friend class SimulatedTimer;
  void arm(const std::shared_ptr<TimerState>& timer, std::chrono::nanoseconds delay);
  void cancel(TimerState& timer);
  // The due timer with the earliest deadline not after `until`, taken off.
  std::shared_ptr<TimerState> take_due(std::int64_t until, std::uint64_t& generation);
  void fire(const std::shared_ptr<TimerState>& timer, std::uint64_t generation);

  SimulatedClock clock_;
  Post post_;
  mutable std::mutex mu_;
  std::int64_t now_ns_ = 0;  // monotonic, since construction
  std::uint64_t sequence_ = 0;
  std::vector<std::weak_ptr<TimerState>> timers_;
};

}  // namespace tw
