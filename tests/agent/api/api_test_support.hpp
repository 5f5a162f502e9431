// api_test_support.hpp -- what the API tests share: a fake ApiBackend, the
// io_context on a thread, a small synchronous HTTP client over real sockets
// whose every wait is bounded, and helpers to read metrics.
//
//   LoopThread loop;
//   auto api = loop.run([&] { return SocketApi::open(loop.io, options, backend, metrics, time); });
//   TestClient c = TestClient::unix_socket(path);
//   auto reply = c.request("GET", "/v1/credentials/redis");
//   ASSERT_TRUE(reply); EXPECT_EQ(reply->result_int(), 200);
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <gtest/gtest.h>

#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/agent/common/simulated_time.hpp"
#include "tokenwell/agent/api/backend.hpp"
#include "tokenwell/agent/metrics/metrics.hpp"
#include "tokenwell/agent/api/socket_api.hpp"
#include "tokenwell/agent/common/clock.hpp"

namespace tw::testing {

using namespace std::chrono_literals;
using Reply = boost::beast::http::response<boost::beast::http::string_body>;

// --- the backend ----------------------------------------------------------

// An ApiBackend over a map the test edits. Locked, so a test may edit it from
// its own thread while the loop reads it (the real agent needs no lock: its
// state lives on the loop's thread).
class FakeBackend final : public ApiBackend {
 public:
  // A credential with a valid value; returns its (new) generation.
  std::uint64_t publish(const std::string& name, const std::string& token,
                        std::int64_t expires_at = 4'000'000'000, const std::string& username = "oid");
  void add_pending(const std::string& name);
  void expire(const std::string& name);
  // How the entry's refreshes go (GET /v1/credentials, `tokenwell status`).
  void set_refresh_status(const std::string& name, std::int64_t last_refresh, const std::string& last_error,
                          unsigned consecutive_failures, std::int64_t next_attempt);
  void add_keyset(const std::string& name, std::optional<std::string> jwks);
  void remove(const std::string& name);
  void set_refresh_reply(RefreshReply reply);
  // What sign() answers for a known keyset; it records the claims and ttl asked.
  void set_sign_reply(SignAnswer answer, std::string token_or_error);
  std::pair<std::string, std::int64_t> last_sign_request() const;
  void set_readiness(Readiness readiness);
  // readiness() throws from now on, as a broken backend might.
  void throw_on_readiness();
  // Waits until credential(name) has been asked at least `count` times.
  bool wait_for_lookups(const std::string& name, unsigned count, std::chrono::milliseconds timeout);

  std::vector<Entry> entries() const override;
  Lookup<CredentialValue> credential(std::string_view name) const override;
  Lookup<std::string> jwks(std::string_view keyset) const override;
  RefreshReply request_keyset_refresh(std::string_view keyset) override;
  SignReply sign(std::string_view keyset, std::string_view claims_json, std::int64_t ttl_seconds) override;
  Readiness readiness() const override;

 private:
  struct Item {
    Entry entry;
    Secret token;
    std::optional<std::string> jwks;
  };
  mutable std::mutex mutex_;
  mutable std::condition_variable lookups_changed_;
  std::map<std::string, Item, std::less<>> items_;
  mutable std::map<std::string, unsigned, std::less<>> lookups_;
  RefreshReply refresh_reply_;
  SignAnswer sign_answer_ = SignAnswer::signed_token;
  std::string sign_text_ = "h.c.s";
  std::pair<std::string, std::int64_t> last_sign_;
  Readiness readiness_{.ready = true, .reasons = {}};
  bool throw_on_readiness_ = false;
};

// --- the event loop --------------------------------------------------------

// The agent's single-threaded io_context, run on a thread of the test.
class LoopThread {
 public:
  LoopThread();
  ~LoopThread();
  // Runs `f` on the loop and returns its result (fails the test after 10 s).
  template <typename F>
  auto run(F f) -> decltype(f()) {
    using R = decltype(f());
    std::promise<void> done;
    auto finished = done.get_future();
    if constexpr (std::is_void_v<R>) {
      boost::asio::post(io, [&] {
        f();
        done.set_value();
      });
      wait(finished);
    } else {
      std::optional<R> result;
      boost::asio::post(io, [&] {
        result.emplace(f());
        done.set_value();
      });
      wait(finished);
      return std::move(*result);
    }
  }
  // Stops the loop and joins its thread (idempotent).
  void stop();

  boost::asio::io_context io;

 private:
  // Aborts the test program if the loop does not get to a task within 10 s
  // (the task refers to the caller's stack, so failing softly is not safe).
  static void wait(std::future<void>& finished);

  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

// --- the client ------------------------------------------------------------

// One connection, synchronous, with a timeout on every wait; responses are
// parsed with Beast's parser.
class TestClient {
 public:
  static TestClient unix_socket(const std::filesystem::path& path);
  static TestClient tcp(const std::string& host, std::uint16_t port);
  TestClient(TestClient&& other) noexcept;
  TestClient& operator=(TestClient&& other) noexcept;
  ~TestClient();

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Sends every byte (false on error, e.g. the server closed).
  bool send(std::string_view bytes);
  std::optional<Reply> read_reply(std::chrono::milliseconds timeout = 5s);
  // One request; `extra_headers` are whole lines without CRLF.
  std::optional<Reply> request(std::string_view method, std::string_view target,
                               std::chrono::milliseconds timeout = 5s,
                               std::string_view extra_headers = {});
  // Waits until the server closes the connection (EOF or reset).
  bool wait_closed(std::chrono::milliseconds timeout);
  void close();

 private:
  explicit TestClient(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::string pending_;  // received, not yet parsed
};

// Parses one complete response (e.g. the bytes a child process received).
std::optional<Reply> parse_reply(std::string_view raw);

// A one-shot request on a fresh connection.
std::optional<Reply> get_unix(const std::filesystem::path& path, std::string_view target,
                              std::string_view method = "GET");

// --- odds and ends ---------------------------------------------------------

// A directory under /tmp (short, for sun_path) that others may enter, since
// the denied-caller tests connect as nobody. Removed at the end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The value of one series in a scrape ("name" or `name{a="b",c="d"}`, labels
// in alphabetical order as prometheus-cpp writes them), if present.
std::optional<double> metric_value(const std::string& scrape, std::string_view series);

// Takes over the agent's log (common/log.hpp, JSON lines) while it lives and
// collects its lines: text() renders them "warn MESSAGE key=value ...",
// json_lines() gives them as written.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  std::string text() const;
  std::vector<std::string> json_lines() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Polls `condition` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s);

// Raises the soft RLIMIT_NOFILE to at least `needed` (up to the hard limit).
bool ensure_open_files(std::size_t needed);

// A client that has sent the start of a request's headers and never ends
// them (slowloris).
TestClient slowloris(const std::filesystem::path& socket);

// --- the socket API under test ---------------------------------------------

// A SocketApi on `dir/agent.sock` over a FakeBackend, its loop on a thread.
class SocketApiTest : public ::testing::Test {
 protected:
  // Options with the test's socket path and log; tests change the rest.
  SocketApiOptions options();
  // (Re)opens the API; fails the test if it cannot.
  void open(SocketApiOptions options);
  void TearDown() override;

  std::filesystem::path socket_path() const { return dir.path() / "agent.sock"; }
  TestClient connect() const { return TestClient::unix_socket(socket_path()); }
  std::optional<Reply> get(std::string_view target, std::string_view method = "GET") const {
    return get_unix(socket_path(), target, method);
  }
  std::optional<double> metric(std::string_view series) const {
    return metric_value(metrics.scrape(), series);
  }
  // Lets the loop finish what it is doing, moves the listeners' time by `d`
  // and lets the loop run every timer that fell due.
  void advance(std::chrono::nanoseconds d) {
    loop.run([] {});
    time.advance(d);
    loop.run([] {});
  }

  TempDir dir;
  LoopThread loop;
  FakeBackend backend;
  SimulatedClock clock{Clock::time_point(std::chrono::seconds(1'700'000'000))};
  // The listeners' deadlines: they pass when a test advances this, and fire
  // on the loop's thread.
  SimulatedTime time{Clock::time_point(std::chrono::seconds(1'700'000'000)),
                     [this](std::function<void()> f) { boost::asio::post(loop.io, std::move(f)); }};
  Metrics metrics{"test", clock};
  LogCapture log;
  std::unique_ptr<SocketApi> api;
};

}  // namespace tw::testing
