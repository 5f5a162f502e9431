// event_queue.hpp -- the simulator's calendar: events in time order, with
// O(1) insertion. One bucket per simulated second; the current second is a
// small binary heap, later seconds plain vectors. A fleet's events are spread
// over hours, so every heap stays small (a priority queue over all pending
// events was the simulator's bottleneck at 100,000 pods).
//
//   EventQueue q(duration);
//   q.push({t, client, tag});
//   for (Event e; q.pop(e);) ...
//
// Events at or after the horizon are dropped. Thread-compatible.
#pragma once

#include <algorithm>
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
    if (b <= current_) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), later);
    } else {
      buckets_[b].push_back(e);
    }
  }

  // The next event of the current second, if any (for prefetching).
  const Event* peek() const { return heap_.empty() ? nullptr : &heap_.front(); }

  bool pop(Event& out) {
    while (heap_.empty()) {
      if (++current_ >= buckets_.size()) return false;
      heap_.swap(buckets_[current_]);
      std::vector<Event>().swap(buckets_[current_]);  // give the memory back
      std::make_heap(heap_.begin(), heap_.end(), later);
    }
    std::pop_heap(heap_.begin(), heap_.end(), later);
    out = heap_.back();
    heap_.pop_back();
    return true;
  }

 private:
  // Ties in time go by client, then tag, so a run does not depend on the
  // order in which the same-millisecond events were pushed.
  static bool later(const Event& a, const Event& b) {
    if (a.t != b.t) return a.t > b.t;
    if (a.who != b.who) return a.who > b.who;
    return a.tag > b.tag;
  }

  std::int64_t horizon_;
  std::vector<std::vector<Event>> buckets_;
  std::vector<Event> heap_;
  std::size_t current_ = 0;
};

}  // namespace tw::fleet
