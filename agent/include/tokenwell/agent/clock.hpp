// clock.hpp -- the time source every piece of logic takes instead of calling
// system_clock directly, so tests run on simulated time and never sleep.
//
//   SimulatedClock clock(std::chrono::sys_seconds{std::chrono::seconds{1000}});
//   engine.run_until(clock, ...); clock.advance(std::chrono::seconds(30));
//
// SystemClock is thread-safe; SimulatedClock is thread-safe too (atomic).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tw {

class Clock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;

  std::int64_t unix_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  }
  std::int64_t unix_millis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch())
        .count();
  }
};

class SystemClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::system_clock::now(); }
};

class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(time_point start) : ns_(start.time_since_epoch().count()) {}
  time_point now() const override { return time_point(time_point::duration(ns_.load())); }
  void advance(std::chrono::nanoseconds d) { ns_ += std::chrono::duration_cast<time_point::duration>(d).count(); }
  void set(time_point t) { ns_ = t.time_since_epoch().count(); }

 private:
  std::atomic<time_point::rep> ns_;
};

}  // namespace tw
