// fetch_cycle.hpp -- the one "fetch at time T, off the loop, then decide"
// mechanism every runner shares (credentials and JWKS keysets): a timer on
// the loop, one fetch at a time on a FetchExecutor, and the result handed
// back on the loop with how long it took.
//
//   FetchCycle<FetchResult<FetchedCredential>> cycle(time, executor,
//       [source] { return source->fetch(); },                 // off the loop
//       [this](auto result, auto took) { decide(result); });  // on the loop
//   cycle.schedule(state.start(clock.now()));
//   ... in decide():  cycle.schedule(step.next_attempt);
//   ... a watched file changed:  cycle.fetch_now();
//
// The decisions (when next, what to publish) stay in the runner's state
// class; this only moves work between the loop and the executor. A fetch in
// flight when the cycle stops or dies is dropped on its return. Lives on the
// loop's thread; `fetch` runs on the executor and must only touch what it
// owns.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "tokenwell/agent/common/timer.hpp"
#include "tokenwell/agent/refresh/fetch_executor.hpp"

namespace tw {

template <typename Result>
class FetchCycle {
 public:
  using Fetch = std::function<Result()>;
  using OnResult = std::function<void(Result result, std::chrono::nanoseconds took)>;

  FetchCycle(TimeSource& time, FetchExecutor& executor, Fetch fetch, OnResult on_result)
      : time_(time),
        executor_(executor),
        fetch_(std::move(fetch)),
        on_result_(std::move(on_result)),
        alive_(std::make_shared<FetchCycle*>(this)),
        timer_(time.create_timer([this] { begin(); })) {}
  ~FetchCycle() { *alive_ = nullptr; }
  FetchCycle(const FetchCycle&) = delete;
  FetchCycle& operator=(const FetchCycle&) = delete;

  // Called on the loop as each fetch begins (a JWKS cooldown starts then).
  void on_begin(std::function<void()> hook) { on_begin_ = std::move(hook); }

  // Fetches at `at` (wall-clock): at once when it is due already;
  // time_point::max() means not on a timer.
  void schedule(Clock::time_point at) {
    if (stopped_) return;
    if (at <= time_.clock().now()) {
      timer_->cancel();
      begin();
      return;
    }
    arm_at(*timer_, time_.clock(), at);
  }

  // Fetches at once; during a fetch, once more right after it.
  void fetch_now() {
    if (stopped_) return;
    if (in_flight_) {
      again_ = true;
      return;
    }
    timer_->cancel();
    begin();
  }

  void stop() {
    stopped_ = true;
    timer_->cancel();
  }

  bool in_flight() const { return in_flight_; }

 private:
  void begin() {
    if (stopped_ || in_flight_) return;
    in_flight_ = true;
    if (on_begin_) on_begin_();
    auto slot = std::make_shared<std::optional<std::pair<Result, std::chrono::nanoseconds>>>();
    const Clock& clock = time_.clock();
    executor_.execute(
        [fetch = fetch_, slot, &clock] {
          const auto t0 = clock.monotonic_now();
          Result r = fetch();
          slot->emplace(std::move(r), clock.monotonic_now() - t0);
        },
        [alive = alive_, slot] {
          if (FetchCycle* self = *alive) self->finish(std::move(slot->value().first), slot->value().second);
        });
  }

  void finish(Result result, std::chrono::nanoseconds took) {
    in_flight_ = false;
    if (stopped_) return;
    on_result_(std::move(result), took);  // schedules the next fetch
    if (again_ && !stopped_) {
      again_ = false;
      timer_->cancel();
      begin();
    }
  }

  TimeSource& time_;
  FetchExecutor& executor_;
  Fetch fetch_;
  OnResult on_result_;
  std::function<void()> on_begin_;
  std::shared_ptr<FetchCycle*> alive_;
  std::unique_ptr<Timer> timer_;
  bool in_flight_ = false;
  bool again_ = false;
  bool stopped_ = false;
};

}  // namespace tw
