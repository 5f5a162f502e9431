// event_queue.hpp -- the simulator's calendar: events in time order, with
// O(1) insertion. One bucket per simulated second: when a second begins, its
// events are put in order by a counting sort on the millisecond (ties by
// client, then tag); events pushed into the second already running go to a
// small heap beside it. A fleet's events are spread over hours and a retry
// storm puts hundreds of thousands into one second, where a binary heap over
// them was the simulator's bottleneck.
//
//   EventQueue q(duration);
//   q.push({t, client, tag});
//   for (Event e; q.pop(e);) ...
//
// Events at or after the horizon are dropped. Thread-compatible.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace tw::fleet {

struct Event {
  std::int64_t t;      // simulated milliseconds
  std::uint32_t who;   // a client (or a pod, for a start)
  std::uint32_t tag;   // kind in the low bits, a generation above
};

class EventQueue {
 public:
  explicit EventQueue(std::int64_t horizon_ms)
      : horizon_(horizon_ms), buckets_(static_cast<std::size_t>(horizon_ms / 1000 + 1)) {}

  void push(const Event& e) {
    if (e.t >= horizon_) return;
    const auto b = static_cast<std::size_t>(e.t / 1000);
    if (open_ && b <= current_) {
      late_.push_back(e);
      std::push_heap(late_.begin(), late_.end(), later);
    } else {
      buckets_[b].push_back(e);
    }
  }

  // The event `ahead` places after the next in this second's ordered part,
  // if any (for prefetching).
  const Event* ahead(std::size_t places) const {
    return next_ + places < now_.size() ? &now_[next_ + places] : nullptr;
  }

  // The next event, if the current second has one.
  const Event* peek() const {
    const Event* sorted = next_ < now_.size() ? &now_[next_] : nullptr;
    const Event* late = late_.empty() ? nullptr : &late_.front();
    if (!sorted) return late;
    if (!late) return sorted;
    return later(*sorted, *late) ? late : sorted;
  }

  bool pop(Event& out) {
    while (next_ == now_.size() && late_.empty()) {
      if (open_) ++current_;
      if (current_ >= buckets_.size()) return false;
      open(current_);
    }
    const Event* e = peek();
    out = *e;
    if (next_ < now_.size() && e == &now_[next_]) {
      ++next_;
    } else {
      std::pop_heap(late_.begin(), late_.end(), later);
      late_.pop_back();
    }
    return true;
  }

 private:
  static bool later(const Event& a, const Event& b) {
    if (a.t != b.t) return a.t > b.t;
    if (a.who != b.who) return a.who > b.who;
    return a.tag > b.tag;
  }

  void open(std::size_t b) {
    open_ = true;
    std::vector<Event>& in = buckets_[b];
    const std::int64_t base = static_cast<std::int64_t>(b) * 1000;
    std::array<std::uint32_t, 1001> start{};
    for (const Event& e : in) ++start[static_cast<std::size_t>(e.t - base) + 1];
    for (std::size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
    now_.resize(in.size());
    std::array<std::uint32_t, 1001> fill = start;
    for (const Event& e : in) now_[fill[static_cast<std::size_t>(e.t - base)]++] = e;
    for (std::size_t ms = 0; ms < 1000; ++ms)
      if (start[ms + 1] - start[ms] > 1)
        std::sort(now_.begin() + start[ms], now_.begin() + start[ms + 1],
                  [](const Event& x, const Event& y) { return later(y, x); });
    std::vector<Event>().swap(in);  // give the memory back
    next_ = 0;
  }

  std::int64_t horizon_;
  std::vector<std::vector<Event>> buckets_;
  std::vector<Event> now_;   // the current second, in order from next_
  std::vector<Event> late_;  // pushed into the current second after it opened: a heap
  std::size_t current_ = 0, next_ = 0;
  bool open_ = false;
};

}  // namespace tw::fleet
