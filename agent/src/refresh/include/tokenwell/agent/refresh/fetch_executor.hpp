// fetch_executor.hpp -- where fetches run: off the event loop, because a
// fetch blocks (an IdP may take its whole timeout), with the result handed
// back on the loop. A seam, so tests run fetches when and where they choose.
//
//   ThreadFetchExecutor workers(io);            // the agent: a thread per fetch
//   workers.execute([&] { r = source->fetch(); }, [&] { on_result(r); });
//
//   ManualFetchExecutor fetches;                // a test
//   runner.start();  fetches.run_pending();     // the fetch and its result, now
//
// A fetch of one entry never waits for another's: a hanging IdP for one
// credential delays nothing else. execute() and in_flight() are called on the
// loop's thread.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <utility>

namespace boost::asio {
class io_context;
}

namespace tw {

class FetchExecutor {
 public:
  virtual ~FetchExecutor() = default;
  // Runs `fetch` off the loop, then `done` on the loop.
  virtual void execute(std::function<void()> fetch, std::function<void()> done) = 0;
  // Fetches handed over whose `done` has not run yet.
  virtual int in_flight() const = 0;
};

// A detached thread per fetch, `done` posted to the io_context. Each thread
// holds work on the io_context, so the loop does not return while a fetch is
// out.
class ThreadFetchExecutor final : public FetchExecutor {
 public:
  explicit ThreadFetchExecutor(boost::asio::io_context& io) : io_(io) {}
  void execute(std::function<void()> fetch, std::function<void()> done) override;
  int in_flight() const override { return in_flight_->load(); }

 private:
  boost::asio::io_context& io_;
  // Shared with the threads: a thread that outlives the executor (a stop that
  // gave up waiting) still has it.
  std::shared_ptr<std::atomic<int>> in_flight_ = std::make_shared<std::atomic<int>>(0);
};

// Fetches wait until the test runs them, in order, on its own thread.
class ManualFetchExecutor final : public FetchExecutor {
 public:
  void execute(std::function<void()> fetch, std::function<void()> done) override {
    pending_.emplace_back(std::move(fetch), std::move(done));
  }
  int in_flight() const override { return static_cast<int>(pending_.size()); }
  // Runs every pending fetch and then its `done` (those they start too);
  // returns how many ran.
  std::size_t run_pending() {
    std::size_t n = 0;
    while (!pending_.empty()) {
      auto [fetch, done] = std::move(pending_.front());
      pending_.pop_front();
      fetch();
      done();
      ++n;
    }
    return n;
  }

 private:
  std::deque<std::pair<std::function<void()>, std::function<void()>>> pending_;
};

}  // namespace tw
