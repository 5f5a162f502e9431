// timer.cpp -- see timer.hpp: arm_at and the io_context's timers (the only
// asio::steady_timer of the agent).
#include "tokenwell/agent/common/timer.hpp"

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tw {
namespace {

namespace asio = boost::asio;

constexpr auto kFarthestArm = std::chrono::hours(24 * 365);

class AsioTimer final : public Timer {
 public:
  AsioTimer(asio::io_context& io, std::function<void()> on_fire)
      : timer_(io), state_(std::make_shared<State>(State{std::move(on_fire)})) {}
  ~AsioTimer() override { cancel(); }

  void arm(std::chrono::nanoseconds delay) override {
    timer_.expires_after(std::max(delay, std::chrono::nanoseconds(0)));
    state_->armed = true;
    // The handler holds the state, not the timer: it may run after the timer
    // died (with operation_aborted), and a stale expiry must be ignored.
    timer_.async_wait([state = state_, token = ++state_->token](const boost::system::error_code& ec) {
      if (ec || token != state->token) return;
      state->armed = false;
      state->on_fire();
    });
  }
  void cancel() override {
    ++state_->token;
    state_->armed = false;
    timer_.cancel();
  }
  bool armed() const override { return state_->armed; }

 private:
  struct State {
    std::function<void()> on_fire;
    std::uint64_t token = 0;
    bool armed = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace

void arm_at(Timer& timer, const Clock& clock, Clock::time_point at) {
  if (at == Clock::time_point::max()) {
    timer.cancel();
    return;
  }
  const auto delay = std::max(at - clock.now(), Clock::time_point::duration::zero());
  timer.arm(std::min<std::chrono::nanoseconds>(delay, kFarthestArm));
}

std::unique_ptr<Timer> AsioTimeSource::create_timer(std::function<void()> on_fire) {
  return std::make_unique<AsioTimer>(io_, std::move(on_fire));
}

}  // namespace tw
