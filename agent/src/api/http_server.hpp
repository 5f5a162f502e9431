// http_server.hpp -- the one HTTP/1.1 server (Boost.Beast) under both the
// Unix socket API and the TCP health listener: accepting within
// max_connections (and, on Unix sockets, max_connections_per_uid), refusing
// at accept a peer the handler does not admit, reading each request within
// HttpLimits, answering now or later (long-polls), keep-alive, and a
// graceful stop. What a request means is the RequestHandler's business;
// this file only moves bytes safely.
//
//   auto server = std::make_shared<HttpServer<tcp>>(std::move(acceptor), limits, handler);
//   server->start();
//   ...  server->wake_all();   // a publish: deferred answers look again
//   ...  server->stop([] { /* every connection closed */ });
//
// Not thread-safe: everything runs on the io_context's (single) thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "log_throttle.hpp"
#include "tokenwell/agent/api/http_limits.hpp"
#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/agent/common/timer.hpp"

namespace tw::api {

namespace asio = boost::asio;
namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Who is at the other end of a Unix socket, as the kernel says (SO_PEERCRED
// and SO_PEERGROUPS, taken when the connection is accepted).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
};

// An answer that is not ready yet (a long-poll). The server holds the
// request, asks ready() again after every wake_all(), and takes settle()'s
// answer once `wait` has passed or the server stops.
struct Deferred {
  std::chrono::milliseconds wait{0};
  std::function<std::optional<Response>()> ready;
  std::function<Response()> settle;
};

using Outcome = std::variant<Response, Deferred>;

// What a listener does with requests. A response that says `Connection:
// close` closes its connection once written.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // `peer` is set on Unix sockets; empty on TCP or when the kernel would not say.
  virtual Outcome handle(const Request& request, const std::optional<PeerCredentials>& peer) = 0;
  // Asked when a connection is accepted, before it takes a slot. One not
  // admitted is answered kForbiddenAtAccept at once and closed as soon as
  // its client has sent its request (at most 1 s later), its request never
  // read: a refused peer holds no slot, and all of them together at most
  // HttpServer::kMaxRefusals descriptors. The handler counts and logs it.
  virtual bool admit(const std::optional<PeerCredentials>& peer) {
    (void)peer;
    return true;
  }
  // The server answered by itself a request it could not read (400, 413, 431).
  virtual void answered_unreadable(unsigned status) { (void)status; }
  virtual void connections_changed(std::size_t open) { (void)open; }
  // A connection was closed at once because max_connections were open.
  virtual void connection_refused() {}
  // A connection was closed at once because its uid already had
  // HttpLimits::max_connections_per_uid open.
  virtual void connection_refused_for_uid(uid_t uid) { (void)uid; }
  // An idle connection was closed to make room for a new one
  // (HttpLimits::shed_idle_when_full).
  virtual void connection_shed() {}
};

// What the server needs from one of its connections.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void wake() = 0;       // a deferred answer may be ready
  virtual void stopping() = 0;   // the server stops: finish up, take no new request
  virtual void close() = 0;      // at once
  // Waiting for a request (none being read, answered or written).
  virtual bool idle() const = 0;
};

// The part of a server its connections share. Connections hold it by
// shared_ptr, so it outlives whichever of them completes last.
class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  // `name` says which listener a log line is about ("socket API"); `time`
  // gives every deadline its timer.
  ServerCore(asio::any_io_executor executor, HttpLimits limits, RequestHandler& handler,
             std::string_view name, TimeSource& time);
  virtual ~ServerCore() = default;
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  const HttpLimits& limits() const { return limits_; }
  // Null once detached: connections then close instead of calling it.
  RequestHandler* handler() const { return handler_; }
  bool stopping() const { return stopping_; }
  std::size_t open_connections() const { return connections_.size(); }
  std::size_t open_connections_of(uid_t uid) const;
  TimeSource& time() const { return time_; }
  // A log line naming this listener (its name comes first among the fields).
  void log(log::Level level, std::string_view message, std::vector<log::Field> fields = {}) const;

  // Every deferred answer looks again (after a publish).
  void wake_all();
  // Stops accepting, closes idle connections, settles deferred answers,
  // lets requests being read or written finish within limits().stop_grace,
  // then calls `on_stopped` (posted) once no connection is left.
  void stop(std::function<void()> on_stopped);
  // Closes the listener and every connection at once and forgets the
  // handler: for an owner that is going away.
  void detach();

  // `uid`: the peer's, counted against max_connections_per_uid (Unix sockets).
  void add(const std::shared_ptr<Connection>& connection, std::optional<uid_t> uid);
  void remove(Connection* connection);
  // Closes the idle connection accepted first; false when none is idle.
  bool shed_oldest_idle();

 protected:
  virtual void close_acceptor() = 0;
  asio::any_io_executor executor() const { return executor_; }

 private:
  std::vector<std::shared_ptr<Connection>> live_connections() const;
  void finish_stop_if_done();

  asio::any_io_executor executor_;
  HttpLimits limits_;
  RequestHandler* handler_;
  std::string name_;
  TimeSource& time_;
  struct Open {
    std::weak_ptr<Connection> connection;
    std::uint64_t accepted;  // order of acceptance: lower is older
    std::optional<uid_t> uid;
  };
  std::unordered_map<Connection*, Open> connections_;
  std::unordered_map<uid_t, std::size_t> open_per_uid_;
  std::uint64_t accepted_ = 0;
  bool stopping_ = false;
  std::vector<std::function<void()>> on_stopped_;
  std::unique_ptr<Timer> grace_;
};

namespace detail {
template <typename Protocol>
class Refusal;  // http_server.cpp
}  // namespace detail

// A listening socket of `Protocol` (asio::ip::tcp or
// asio::local::stream_protocol) and its accept loop.
template <typename Protocol>
class HttpServer final : public ServerCore {
 public:
  // Refused peers' sockets kept until their clients have read the 403.
  static constexpr std::size_t kMaxRefusals = 64;

  HttpServer(typename Protocol::acceptor acceptor, HttpLimits limits, RequestHandler& handler,
             std::string_view name, TimeSource& time);
  void start();

 private:
  void accept();
  void on_accept(const boost::system::error_code& ec, typename Protocol::socket socket);
  void refuse(typename Protocol::socket socket);
  void close_acceptor() override;

  typename Protocol::acceptor acceptor_;
  std::deque<std::shared_ptr<detail::Refusal<Protocol>>> refusals_;  // oldest first
  std::unique_ptr<Timer> retry_;  // after accept() fails, e.g. out of file descriptors
  LogThrottle accept_failures_;
};

extern template class HttpServer<asio::ip::tcp>;
extern template class HttpServer<asio::local::stream_protocol>;

}  // namespace tw::api
