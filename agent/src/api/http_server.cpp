// http_server.cpp -- see http_server.hpp. One HttpConnection per accepted
// socket walks through these phases, each bounded by a deadline:
//
//   idle ──first byte──▶ reading ──request──▶ (handler) ──▶ writing ──keep-alive──▶ idle
//                                                 └──▶ waiting (long-poll) ──▶ writing
//   writing ──Connection: close──▶ closed, or, when the client may still be
//           sending (an unreadable request), lingering (drain it) ──▶ closed
//
// A deadline that passes closes the connection (or, while waiting, answers
// it), so no client can hold the loop, and memory per connection is bounded
// by the header and body limits.
#include "http_server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "responses.hpp"

namespace tw::api {
namespace {

using boost::system::error_code;
using namespace std::chrono_literals;

// Room in a connection's read buffer beyond a maximal request, so a client
// that pipelines a second request behind its first is not cut off.
constexpr std::size_t kPipelineSlack = 1024;
// After a response that closes the connection, how long to keep reading (and
// discarding) what the client still sends, so that closing does not reset
// the connection before the client has read that response.
constexpr std::chrono::milliseconds kMaxLinger = 2s;
// A refused peer's socket is kept at most this long for its request to
// arrive (Refusal).
constexpr std::chrono::milliseconds kRefusalLinger = 1s;

std::optional<PeerCredentials> peer_credentials(asio::ip::tcp::socket&) { return std::nullopt; }

std::optional<PeerCredentials> peer_credentials(asio::local::stream_protocol::socket& socket) {
  const int fd = socket.native_handle();
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
  PeerCredentials peer{cred.pid, cred.uid, cred.gid, {}};
  // The supplementary groups too (Linux 4.13+), as the kernel checks them
  // for file access: a caller reads the segment through any of its groups,
  // so the socket must look at all of them.
  std::vector<gid_t> groups(64);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes) == 0) {
      groups.resize(bytes / sizeof(gid_t));
      peer.groups = std::move(groups);
      return peer;
    }
    if (errno != ERANGE) break;
    groups.resize(bytes / sizeof(gid_t));
  }
  // No SO_PEERGROUPS (a kernel before 4.13, a sandbox): the uid and primary
  // gid alone, which can only refuse a caller the file would let in, never
  // the reverse.
  return peer;
}

// Reads and drops what a peer has sent, without waiting: closing over
// unread input would turn the peer's end of an answer into ECONNRESET.
void drop_input(int fd) {
  char discard[4096];
  for (int i = 0; i < 4 && ::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; ++i) {
  }
}

}  // namespace

namespace detail {

// A peer the handler did not admit. kForbiddenAtAccept is written at once
// (a fresh socket's buffer holds it) and the sending side shut, but the
// socket is kept until the peer's request arrives, it hangs up or
// kRefusalLinger passes: the agent accepts a connection before its client
// has sent anything, and closing then would fail the client's send with
// EPIPE instead of giving it the 403. No request is read and no slot taken;
// HttpServer keeps at most kMaxRefusals of these, closing the oldest for a
// new one, so a flood of refused peers holds few descriptors.
template <typename Protocol>
class Refusal final : public std::enable_shared_from_this<Refusal<Protocol>> {
 public:
  explicit Refusal(typename Protocol::socket socket) : socket_(std::move(socket)) {}

  void start(TimeSource& time) {
    const int fd = socket_.native_handle();
    (void)::send(fd, kForbiddenAtAccept.data(), kForbiddenAtAccept.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    error_code ignored;
    socket_.shutdown(Protocol::socket::shutdown_send, ignored);
    deadline_ = time.create_timer([weak = this->weak_from_this()] {
      if (auto self = weak.lock()) self->close();
    });
    deadline_->arm(kRefusalLinger);
    socket_.async_wait(Protocol::socket::wait_read, [self = this->shared_from_this()](const error_code& ec) {
      if (!ec && self->open()) drop_input(self->socket_.native_handle());
      self->close();
    });
  }

  bool open() const { return !closed_; }

  // Also from the deadline's own callback: the timer is cancelled, not destroyed.
  void close() {
    if (closed_) return;
    closed_ = true;
    deadline_->cancel();
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  typename Protocol::socket socket_;
  std::unique_ptr<Timer> deadline_;
  bool closed_ = false;
};

}  // namespace detail

namespace {

// The status to answer a request that could not be read with, or 0 when
// there is nobody to answer (the peer left, or a deadline closed the socket).
unsigned unreadable_status(const error_code& ec) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) return 431;
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  // Every other parser error is a request that is not HTTP as we speak it.
  if (ec.category() == make_error_code(http::error::bad_method).category()) return 400;
  return 0;
}


const char* unreadable_message(unsigned status) {
  switch (status) {
    case 431: return "request header too large";
    case 413: return "request body too large";
    default: return "malformed request";
  }
}

template <typename Protocol>
class HttpConnection final : public Connection,
                             public std::enable_shared_from_this<HttpConnection<Protocol>> {
 public:
  using Socket = typename Protocol::socket;

  HttpConnection(Socket socket, std::shared_ptr<ServerCore> core,
                 std::optional<PeerCredentials> peer)
      : socket_(std::move(socket)),
        core_(std::move(core)),
        limits_(core_->limits()),
        peer_(peer),
        buffer_(limits_.max_header_bytes + limits_.max_body_bytes + kPipelineSlack) {}

  void start() {
    timer_ = core_->time().create_timer([weak = this->weak_from_this()] {
      if (auto self = weak.lock()) self->on_deadline();
    });
    wait_for_request();
  }

  void wake() override {
    if (phase_ != Phase::waiting) return;
    std::optional<Response> r;
    try {
      r = deferred_->ready();
    } catch (...) {
      r = internal_error();
    }
    if (r) finish_deferred(std::move(*r));
  }

  void stopping() override {
    if (phase_ == Phase::idle) {
      // A request whose first bytes already arrived is in flight: read it.
      error_code ec;
      if (socket_.available(ec) > 0 && !ec) return;
      return close();
    }
    if (phase_ == Phase::waiting) return settle_deferred();
    // reading, writing, lingering: they end by themselves, then close.
  }

  bool idle() const override { return phase_ == Phase::idle; }

  void close() override {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    deferred_.reset();
    disarm();
    error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
    core_->remove(this);
  }

 private:
  enum class Phase { idle, reading, waiting, writing, lingering, closed };

  std::shared_ptr<HttpConnection> self() { return this->shared_from_this(); }

  // What a request gets when its handler threw: the loop, and every other
  // connection, must go on. The exception's text is not logged: it may quote
  // data the handler was working on.
  Response internal_error() {
    core_->log(log::Level::error, "a request handler threw; answered 500");
    Response r = json_error(http::status::internal_server_error, "internal error");
    r.keep_alive(false);
    return r;
  }

  // --- deadlines: one timer, re-armed per phase.
  void arm(std::chrono::milliseconds after) { timer_->arm(after); }
  void disarm() {
    if (timer_) timer_->cancel();
  }
  void on_deadline() {
    if (phase_ == Phase::waiting) return settle_deferred();
    close();  // idle too long, too slow to send a request or to read an answer
  }

  // --- idle: a request starts with its first byte, under the idle timeout;
  // from then on the header timeout runs.
  void wait_for_request() {
    if (core_->stopping()) return close();
    if (buffer_.size() > 0) return read_request();  // pipelined behind the last one
    phase_ = Phase::idle;
    arm(limits_.idle_timeout);
    socket_.async_wait(Socket::wait_read, [self = self()](const error_code& ec) {
      if (self->phase_ != Phase::idle) return;
      if (ec) return self->close();
      self->read_request();
    });
  }

  void read_request() {
    phase_ = Phase::reading;
    arm(limits_.header_timeout);
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_->body_limit(limits_.max_body_bytes);
    http::async_read(socket_, buffer_, *parser_,
                     [self = self()](const error_code& ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(const error_code& ec) {
    if (phase_ != Phase::reading) return;
    if (ec) {
      const unsigned status = unreadable_status(ec);
      if (status == 0) return close();
      if (RequestHandler* handler = core_->handler()) handler->answered_unreadable(status);
      keep_alive_ = false;
      unread_input_ = true;  // the rest of what could not be read may still come
      version_ = 11;
      return send(json_error(static_cast<http::status>(status), unreadable_message(status)));
    }
    dispatch();
  }

  void dispatch() {
    disarm();
    RequestHandler* handler = core_->handler();
    if (handler == nullptr) return close();
    const Request& request = parser_->get();
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    Outcome outcome;
    try {
      outcome = handler->handle(request, peer_);
    } catch (...) {
      outcome = internal_error();
    }
    if (Response* response = std::get_if<Response>(&outcome)) return send(std::move(*response));
    deferred_ = std::move(std::get<Deferred>(outcome));
    if (core_->stopping()) return settle_deferred();
    phase_ = Phase::waiting;
    arm(deferred_->wait);
    watch_for_hangup();
  }

  // --- waiting: a long-poll holds the connection; a client that gives up
  // (closes) must not keep it until the wait runs out.
  void watch_for_hangup() {
    socket_.async_wait(Socket::wait_read, [self = self()](const error_code& ec) {
      if (self->phase_ != Phase::waiting || ec) return;
      char byte;
      const ssize_t n =
          ::recv(self->socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0) return self->close();  // orderly hang-up
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
          return self->watch_for_hangup();
        return self->close();  // reset
      }
      // A pipelined request: it is read once this one is answered.
    });
  }

  void settle_deferred() {
    Response r;
    try {
      r = deferred_->settle();
    } catch (...) {
      r = internal_error();
    }
    finish_deferred(std::move(r));
  }

  void finish_deferred(Response response) {
    deferred_.reset();
    error_code ignored;
    socket_.cancel(ignored);  // ends watch_for_hangup()
    send(std::move(response));
  }

  // --- writing
  void send(Response response) {
    phase_ = Phase::writing;
    close_after_ = !keep_alive_ || !response.keep_alive() || core_->stopping();
    response_ = std::move(response);
    response_.version(version_);
    response_.keep_alive(!close_after_);
    response_.prepare_payload();
    arm(limits_.write_timeout);
    http::async_write(socket_, response_,
                      [self = self()](const error_code& ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(const error_code& ec) {
    if (phase_ != Phase::writing) return;
    wipe_body(response_);
    response_ = {};
    parser_.reset();
    if (ec) return close();
    if (close_after_) return unread_input_ || input_pending() ? linger() : close();
    wait_for_request();
  }

  bool input_pending() {
    error_code ec;
    return socket_.available(ec) > 0 || ec;
  }

  // --- lingering: half-close, then drain until the client closes too, so
  // that closing with unread input does not reset the connection before the
  // client has read the answer (a request read in full needs none of this).
  void linger() {
    phase_ = Phase::lingering;
    error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
    arm(std::min(limits_.header_timeout, kMaxLinger));
    if (!discard_) discard_ = std::make_unique<char[]>(kDiscardSize);
    drain();
  }

  void drain() {
    socket_.async_read_some(asio::buffer(discard_.get(), kDiscardSize),
                            [self = self()](const error_code& ec, std::size_t) {
                              if (self->phase_ != Phase::lingering) return;
                              if (ec) return self->close();
                              self->drain();
                            });
  }

  static constexpr std::size_t kDiscardSize = 1024;

  Socket socket_;
  std::unique_ptr<Timer> timer_;  // holds the connection weakly
  std::shared_ptr<ServerCore> core_;
  const HttpLimits& limits_;
  const std::optional<PeerCredentials> peer_;
  Phase phase_ = Phase::idle;

  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Deferred> deferred_;
  Response response_;  // alive while it is written
  bool keep_alive_ = true;
  bool close_after_ = false;
  bool unread_input_ = false;
  unsigned version_ = 11;
  std::unique_ptr<char[]> discard_;
};

}  // namespace

// --- ServerCore

ServerCore::ServerCore(asio::any_io_executor executor, HttpLimits limits, RequestHandler& handler,
                       std::string_view name, TimeSource& time)
    : executor_(executor),
      limits_(limits),
      handler_(&handler),
      name_(name),
      time_(time),
      grace_(time.create_timer([this] {
        for (const auto& c : live_connections()) c->close();
      })) {}

void ServerCore::log(log::Level level, std::string_view message, std::vector<log::Field> fields) const {
  fields.insert(fields.begin(), log::Field("listener", std::string_view(name_)));
  log::write(level, message, fields);
}

std::vector<std::shared_ptr<Connection>> ServerCore::live_connections() const {
  std::vector<std::shared_ptr<Connection>> live;
  live.reserve(connections_.size());
  for (const auto& [raw, entry] : connections_)
    if (auto c = entry.connection.lock()) live.push_back(std::move(c));
  return live;
}

void ServerCore::wake_all() {
  // A copy: a woken connection may finish and leave the map meanwhile.
  for (const auto& c : live_connections()) c->wake();
}

void ServerCore::stop(std::function<void()> on_stopped) {
  if (handler_ == nullptr) return;  // detached: its owner is gone
  if (on_stopped) on_stopped_.push_back(std::move(on_stopped));
  if (!stopping_) {
    stopping_ = true;
    close_acceptor();
    grace_->arm(limits_.stop_grace);
    for (const auto& c : live_connections()) c->stopping();
  }
  finish_stop_if_done();
}

void ServerCore::detach() {
  handler_ = nullptr;
  on_stopped_.clear();  // their owner is going away
  stopping_ = true;
  close_acceptor();
  grace_->cancel();
  for (const auto& c : live_connections()) c->close();
}

void ServerCore::add(const std::shared_ptr<Connection>& connection, std::optional<uid_t> uid) {
  connections_.emplace(connection.get(), Open{connection, accepted_++, uid});
  if (uid) ++open_per_uid_[*uid];
  if (handler_ != nullptr) handler_->connections_changed(connections_.size());
}

std::size_t ServerCore::open_connections_of(uid_t uid) const {
  const auto it = open_per_uid_.find(uid);
  return it == open_per_uid_.end() ? 0 : it->second;
}

void ServerCore::remove(Connection* connection) {
  const auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  if (const std::optional<uid_t> uid = it->second.uid; uid) {
    if (--open_per_uid_[*uid] == 0) open_per_uid_.erase(*uid);
  }
  connections_.erase(it);
  if (handler_ != nullptr) handler_->connections_changed(connections_.size());
  finish_stop_if_done();
}

bool ServerCore::shed_oldest_idle() {
  std::shared_ptr<Connection> oldest;
  std::uint64_t oldest_accepted = UINT64_MAX;
  for (const auto& [raw, entry] : connections_) {
    if (entry.accepted >= oldest_accepted) continue;
    auto c = entry.connection.lock();
    if (!c || !c->idle()) continue;
    oldest = std::move(c);
    oldest_accepted = entry.accepted;
  }
  if (!oldest) return false;
  oldest->close();
  return true;
}

void ServerCore::finish_stop_if_done() {
  if (!stopping_ || !connections_.empty() || on_stopped_.empty()) return;
  grace_->cancel();
  for (auto& callback : on_stopped_) asio::post(executor_, std::move(callback));
  on_stopped_.clear();
}

// --- HttpServer

template <typename Protocol>
HttpServer<Protocol>::HttpServer(typename Protocol::acceptor acceptor, HttpLimits limits,
                                 RequestHandler& handler, std::string_view name, TimeSource& time)
    : ServerCore(acceptor.get_executor(), limits, handler, name, time),
      acceptor_(std::move(acceptor)),
      retry_(time.create_timer([this] {
        if (!stopping()) accept();
      })),
      accept_failures_(time.clock(), std::chrono::seconds(10)) {}

template <typename Protocol>
void HttpServer<Protocol>::start() {
  accept();
}

template <typename Protocol>
void HttpServer<Protocol>::accept() {
  auto self = std::static_pointer_cast<HttpServer>(shared_from_this());
  acceptor_.async_accept([self](const error_code& ec, typename Protocol::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

template <typename Protocol>
void HttpServer<Protocol>::on_accept(const error_code& ec, typename Protocol::socket socket) {
  if (stopping() || !acceptor_.is_open()) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // Out of file descriptors (or memory): retrying at once would spin the
    // loop, so pause; the connections being served free descriptors.
    if (std::uint64_t skipped = 0; accept_failures_.allow(skipped)) {
      const std::string error = ec.message();
      log(log::Level::warn, "accept failed; retrying in 100 ms",
          {{"error", std::string_view(error)}, {"suppressed", static_cast<std::int64_t>(skipped)}});
    }
    retry_->arm(100ms);
    return;
  }
  const std::optional<PeerCredentials> peer = peer_credentials(socket);
  if (RequestHandler* h = handler(); h != nullptr && !h->admit(peer)) {
    refuse(std::move(socket));
    return accept();
  }
  if (const std::size_t cap = limits().max_connections_per_uid;
      peer && cap > 0 && open_connections_of(peer->uid) >= cap) {
    if (RequestHandler* h = handler()) h->connection_refused_for_uid(peer->uid);
    error_code ignored;
    socket.close(ignored);
    return accept();
  }
  if (open_connections() >= limits().max_connections && limits().shed_idle_when_full && shed_oldest_idle()) {
    if (RequestHandler* h = handler()) h->connection_shed();
  }
  if (open_connections() >= limits().max_connections) {
    if (RequestHandler* h = handler()) h->connection_refused();  // counted before the client sees it
    error_code ignored;
    socket.close(ignored);
  } else {
    auto connection =
        std::make_shared<HttpConnection<Protocol>>(std::move(socket), shared_from_this(), peer);
    add(connection, peer ? std::optional<uid_t>(peer->uid) : std::nullopt);
    connection->start();
  }
  accept();
}

template <typename Protocol>
void HttpServer<Protocol>::refuse(typename Protocol::socket socket) {
  std::erase_if(refusals_, [](const auto& r) { return !r->open(); });
  if (refusals_.size() >= kMaxRefusals) {
    refusals_.front()->close();
    refusals_.pop_front();
  }
  auto refusal = std::make_shared<detail::Refusal<Protocol>>(std::move(socket));
  refusal->start(time());
  refusals_.push_back(std::move(refusal));
}

template <typename Protocol>
void HttpServer<Protocol>::close_acceptor() {
  error_code ignored;
  acceptor_.close(ignored);
  retry_->cancel();
  for (const auto& r : refusals_) r->close();
  refusals_.clear();
}

template class HttpServer<asio::ip::tcp>;
template class HttpServer<asio::local::stream_protocol>;

}  // namespace tw::api
