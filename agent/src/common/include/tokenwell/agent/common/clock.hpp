// clock.hpp -- the time every piece of logic reads instead of the system's
// clocks, so tests run on simulated time and never sleep (Envoy's
// TimeSource). Timers come with it: timer.hpp.
//
//   void Runner::on_result(...) { if (expired(cred, clock_.now())) ...; }
//   const auto t0 = clock.monotonic_now();  ...;  took = clock.monotonic_now() - t0;
//
//   SimulatedClock clock(Clock::time_point(std::chrono::seconds(1'700'000'000)));
//   clock.advance(std::chrono::seconds(30));    // both now() and monotonic_now() move
//
// SystemClock and SimulatedClock are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tw {

class Clock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  using monotonic_time = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Wall-clock time: token expiry, log and metric timestamps.
  virtual time_point now() const = 0;
  // Never goes back: durations and timer deadlines.
  virtual monotonic_time monotonic_now() const = 0;

  std::int64_t unix_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  }
  std::int64_t unix_millis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch())
        .count();
  }
};

// The operating system's clocks (clock.cpp is the one place that reads them).
class SystemClock final : public Clock {
 public:
  time_point now() const override;
  monotonic_time monotonic_now() const override;
};

// The process's SystemClock, for code with no clock of its own to take (the
// process-wide logger).
const Clock& system_clock();

// Time that moves only when a test says so. monotonic_now() starts at the
// steady epoch and moves with now() (set() moves only now(), like a wall-clock
// jump).
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(time_point start) : ns_(start.time_since_epoch().count()) {}
  time_point now() const override { return time_point(time_point::duration(ns_.load())); }
  monotonic_time monotonic_now() const override {
    return monotonic_time(std::chrono::duration_cast<monotonic_time::duration>(
        std::chrono::nanoseconds(mono_ns_.load())));
  }
  void advance(std::chrono::nanoseconds d) {
    ns_ += std::chrono::duration_cast<time_point::duration>(d).count();
    mono_ns_ += d.count();
  }
  void set(time_point t) { ns_ = t.time_since_epoch().count(); }

 private:
  std::atomic<time_point::rep> ns_;
  std::atomic<std::int64_t> mono_ns_{0};
};

}  // namespace tw
