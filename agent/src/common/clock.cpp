// clock.cpp -- see clock.hpp. The only reads of the system's clocks in the
// agent are here.
#include "tokenwell/agent/common/clock.hpp"

namespace tw {

Clock::time_point SystemClock::now() const { return std::chrono::system_clock::now(); }

Clock::monotonic_time SystemClock::monotonic_now() const { return std::chrono::steady_clock::now(); }

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace tw
