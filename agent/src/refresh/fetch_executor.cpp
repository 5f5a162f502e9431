// fetch_executor.cpp -- see fetch_executor.hpp.
#include "tokenwell/agent/refresh/fetch_executor.hpp"

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace tw {

void ThreadFetchExecutor::execute(std::function<void()> fetch, std::function<void()> done) {
  namespace asio = boost::asio;
  ++*in_flight_;
  std::thread([&io = io_, count = in_flight_, fetch = std::move(fetch), done = std::move(done),
               guard = asio::make_work_guard(io_)]() mutable {
    fetch();
    asio::post(io, [count, done = std::move(done)] {
      --*count;
      done();
    });
  }).detach();
}

}  // namespace tw
