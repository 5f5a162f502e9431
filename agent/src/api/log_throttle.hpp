// log_throttle.hpp -- at most one warning per interval for events a client
// can trigger at will (denied callers, refused connections), so a hostile
// process cannot flood the agent's log; the metric still counts every one.
//
//   LogThrottle throttle(time.clock(), std::chrono::seconds(1));
//   if (std::uint64_t skipped; throttle.allow(skipped))
//     log::warn("...", {{"suppressed", std::int64_t(skipped)}});
//
// Not thread-safe: one per listener, on the loop's thread.
#pragma once

#include <chrono>
#include <cstdint>

#include "tokenwell/agent/common/clock.hpp"

namespace tw::api {

class LogThrottle {
 public:
  LogThrottle(const Clock& clock, std::chrono::nanoseconds interval) : clock_(clock), interval_(interval) {}

  // True when a line may be logged now; `skipped` is then the number of
  // calls that returned false since the previous true.
  bool allow(std::uint64_t& skipped) {
    const auto now = clock_.monotonic_now();
    if (logged_once_ && now - last_ < interval_) {
      ++skipped_;
      return false;
    }
    logged_once_ = true;
    last_ = now;
    skipped = skipped_;
    skipped_ = 0;
    return true;
  }

 private:
  const Clock& clock_;
  std::chrono::nanoseconds interval_;
  Clock::monotonic_time last_{};
  bool logged_once_ = false;
  std::uint64_t skipped_ = 0;
};

}  // namespace tw::api
