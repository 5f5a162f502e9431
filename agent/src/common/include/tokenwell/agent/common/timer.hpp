// timer.hpp -- timers on the agent's event loop, behind an interface so that
// every piece of logic that waits (refresh schedules, HTTP deadlines, the stop
// grace) runs on simulated time in tests (Envoy's Dispatcher::createTimer).
//
//   std::unique_ptr<Timer> t = time.create_timer([this] { fetch(); });
//   t->arm(std::chrono::seconds(30));      // once, 30 s from now; re-arming replaces
//   arm_at(*t, time.clock(), next_refresh);
//   t->cancel();                           // the callback will not run
//
// TimeSource is the one object a component takes for time: its clock and its
// timers. AsioTimeSource runs timers on an io_context with the system's
// clocks; SimulatedTime (simulated_time.hpp) runs them when a test advances it.
// A timer's callback runs on the loop's thread; a Timer is used on that
// thread only, and its callback never runs after the Timer is destroyed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "tokenwell/agent/common/clock.hpp"

namespace boost::asio {
class io_context;
}

namespace tw {

class Timer {
 public:
  virtual ~Timer() = default;
  // Runs the callback once, `delay` (clamped to >= 0) from now; replaces a
  // pending arm.
  virtual void arm(std::chrono::nanoseconds delay) = 0;
  // The pending arm, if any, will not run.
  virtual void cancel() = 0;
  virtual bool armed() const = 0;
};

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual const Clock& clock() const = 0;
  virtual std::unique_ptr<Timer> create_timer(std::function<void()> on_fire) = 0;
};

// Arms `timer` for the wall-clock time `at` (as far as a year ahead; later
// times are re-armed when they come closer). time_point::max() disarms it.
void arm_at(Timer& timer, const Clock& clock, Clock::time_point at);

// Timers of an io_context on the system's clocks.
class AsioTimeSource final : public TimeSource {
 public:
  explicit AsioTimeSource(boost::asio::io_context& io) : io_(io) {}
  const Clock& clock() const override { return system_clock(); }
  std::unique_ptr<Timer> create_timer(std::function<void()> on_fire) override;

 private:
  boost::asio::io_context& io_;
};

}  // namespace tw
