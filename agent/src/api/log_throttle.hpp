// log_throttle.hpp -- at most one warning per interval for events a client
// can trigger at will (denied callers, refused connections), so a hostile
// process cannot flood the agent's log; the metric still counts every one.
//
//   if (std::uint64_t skipped; throttle.allow(skipped))
//     log(ApiLogLevel::warn, "...", {{"suppressed", std::int64_t(skipped)}});
//
// Not thread-safe: one per listener, on the loop's thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace tw::api {

class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // True when a line may be logged now; `skipped` is then the number of
  // calls that returned false since the previous true.
  bool allow(std::uint64_t& skipped) {
    const auto now = std::chrono::steady_clock::now();
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
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_{};
  bool logged_once_ = false;
  std::uint64_t skipped_ = 0;
};

}  // namespace tw::api
