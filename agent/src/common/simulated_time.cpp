// simulated_time.cpp -- see simulated_time.hpp.
#include "tokenwell/agent/common/simulated_time.hpp"

#include <algorithm>
#include <limits>

namespace tw {

struct SimulatedTime::TimerState {
  std::function<void()> on_fire;
  std::uint64_t generation = 0;  // bumped by every arm and cancel
  bool armed = false;
  std::int64_t deadline_ns = 0;
  std::uint64_t sequence = 0;    // arms at the same deadline fire in arm order
};

class SimulatedTimer final : public Timer {
 public:
  SimulatedTimer(SimulatedTime& time, std::function<void()> on_fire)
      : time_(time), state_(std::make_shared<SimulatedTime::TimerState>()) {
    state_->on_fire = std::move(on_fire);
  }
  ~SimulatedTimer() override { time_.cancel(*state_); }
  void arm(std::chrono::nanoseconds delay) override { time_.arm(state_, delay); }
  void cancel() override { time_.cancel(*state_); }
  bool armed() const override {
    std::lock_guard lock(time_.mu_);
    return state_->armed;
  }

 private:
  SimulatedTime& time_;
  std::shared_ptr<SimulatedTime::TimerState> state_;
};

SimulatedTime::SimulatedTime(Clock::time_point start, Post post) : clock_(start), post_(std::move(post)) {}

SimulatedTime::~SimulatedTime() = default;

std::unique_ptr<Timer> SimulatedTime::create_timer(std::function<void()> on_fire) {
  return std::make_unique<SimulatedTimer>(*this, std::move(on_fire));
}

void SimulatedTime::arm(const std::shared_ptr<TimerState>& timer, std::chrono::nanoseconds delay) {
  std::lock_guard lock(mu_);
  ++timer->generation;
  timer->armed = true;
  timer->deadline_ns = now_ns_ + std::max<std::int64_t>(delay.count(), 0);
  timer->sequence = ++sequence_;
  std::erase_if(timers_, [](const auto& w) { return w.expired(); });
  if (std::none_of(timers_.begin(), timers_.end(), [&](const auto& w) { return w.lock() == timer; }))
    timers_.push_back(timer);
}

void SimulatedTime::cancel(TimerState& timer) {
  std::lock_guard lock(mu_);
  ++timer.generation;
  timer.armed = false;
}

std::shared_ptr<SimulatedTime::TimerState> SimulatedTime::take_due(std::int64_t until,
                                                                   std::uint64_t& generation) {
  std::lock_guard lock(mu_);
  std::shared_ptr<TimerState> best;
  for (const auto& w : timers_) {
    auto t = w.lock();
    if (!t || !t->armed || t->deadline_ns > until) continue;
    if (!best || t->deadline_ns < best->deadline_ns ||
        (t->deadline_ns == best->deadline_ns && t->sequence < best->sequence))
      best = std::move(t);
  }
  if (!best) return nullptr;
  best->armed = false;
  generation = best->generation;
  if (best->deadline_ns > now_ns_) {
    clock_.advance(std::chrono::nanoseconds(best->deadline_ns - now_ns_));
    now_ns_ = best->deadline_ns;
  }
  return best;
}

void SimulatedTime::fire(const std::shared_ptr<TimerState>& timer, std::uint64_t generation) {
  auto run = [this, timer, generation] {
    {
      std::lock_guard lock(mu_);
      if (timer->generation != generation) return;  // re-armed or cancelled since
    }
    timer->on_fire();
  };
  if (post_) post_(std::move(run));
  else run();
}

void SimulatedTime::advance(std::chrono::nanoseconds d) {
  std::int64_t until;
  {
    std::lock_guard lock(mu_);
    until = now_ns_ + std::max<std::int64_t>(d.count(), 0);
  }
  std::uint64_t generation = 0;
  while (auto due = take_due(until, generation)) fire(due, generation);
  std::lock_guard lock(mu_);
  if (until > now_ns_) {
    clock_.advance(std::chrono::nanoseconds(until - now_ns_));
    now_ns_ = until;
  }
}

bool SimulatedTime::fire_next() {
  std::uint64_t generation = 0;
  auto due = take_due(std::numeric_limits<std::int64_t>::max(), generation);
  if (!due) return false;
  fire(due, generation);
  return true;
}

std::optional<std::chrono::nanoseconds> SimulatedTime::next_timer_in() const {
  std::lock_guard lock(mu_);
  std::optional<std::int64_t> best;
  for (const auto& w : timers_)
    if (auto t = w.lock(); t && t->armed && (!best || t->deadline_ns < *best)) best = t->deadline_ns;
  if (!best) return std::nullopt;
  return std::chrono::nanoseconds(*best - now_ns_);
}

std::size_t SimulatedTime::armed_timers() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(std::count_if(timers_.begin(), timers_.end(), [](const auto& w) {
    auto t = w.lock();
    return t && t->armed;
  }));
}

std::vector<std::chrono::nanoseconds> SimulatedTime::armed_deadlines() const {
  std::lock_guard lock(mu_);
  std::vector<std::chrono::nanoseconds> out;
  for (const auto& w : timers_)
    if (auto t = w.lock(); t && t->armed) out.emplace_back(t->deadline_ns - now_ns_);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tw
