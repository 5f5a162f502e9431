// https_server.cpp -- see https_server.hpp. One Session per accepted
// socket, on its own strand, walks through these phases, each bounded:
//
//   handshake ──▶ idle ──first bytes──▶ reading ──request──▶ (handler) ──▶ writing ──keep-alive──▶ idle
//   writing ──Connection: close──▶ closed, or, when the client may still be
//           sending (an unreadable request), lingering (read and drop) ──▶ closed
//
// A deadline that passes closes the connection, so no client holds a slot
// for long, and memory per connection is bounded by the header and body limits.
#include "tokenwell/injector/https_server.hpp"

#include <atomic>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/listen_address.hpp"
#include "tokenwell/agent/common/log.hpp"

namespace tw::injector {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

namespace {

// Room in the read buffer beyond a maximal request, for a pipelined next one.
constexpr std::size_t kPipelineSlack = 1024;
// After an answer to a request that was not read in full, how long to keep
// reading (and dropping) what the client still sends, so that closing does
// not reset the connection before the client has read the answer.
constexpr std::chrono::milliseconds kMaxLinger = 2s;
constexpr std::size_t kDiscardBytes = 16 * 1024;
// What an idle connection reads when it wakes up; smaller than any buffer limit.
constexpr std::size_t kFirstRead = 4 * 1024;

Response json_error(http::status status, std::string_view message, unsigned version) {
  Response r{status, version};
  r.set(http::field::content_type, "application/json");
  r.body() = nlohmann::ordered_json{{"error", message}}.dump(-1, ' ', false,
                                                            nlohmann::json::error_handler_t::replace);
  return r;
}

// The status for a request that could not be read, or 0 when there is
// nobody to answer (the peer left, a deadline closed the socket).
unsigned unreadable_status(const error_code& ec) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) return 431;
  if (ec == http::error::body_limit) return 400;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  if (ec.category() == make_error_code(http::error::bad_method).category()) return 400;
  return 0;
}

}  // namespace

class Session;

// What the listener and its sessions share; sessions hold it by shared_ptr.
struct HttpsServer::Core : std::enable_shared_from_this<HttpsServer::Core> {
  Core(asio::io_context& io_context, HttpsServerOptions opts, CertificateStore& store, RequestHandler& h)
      : io(io_context),
        options(std::move(opts)),
        certificates(store),
        handler(&h),
        acceptor(asio::make_strand(io_context)),
        grace(acceptor.get_executor()) {}

  void accept();
  void add(const std::shared_ptr<Session>& session);
  void remove(Session* session);
  void forget(Session* session);
  void stop(std::function<void()> on_stopped);
  void close_all();
  std::vector<std::shared_ptr<Session>> live();
  void finish_stop_if_done();

  asio::io_context& io;
  const HttpsServerOptions options;
  CertificateStore& certificates;
  std::atomic<RequestHandler*> handler;  // null once detached
  tcp::acceptor acceptor;
  std::uint16_t port = 0;
  asio::steady_timer grace;
  std::atomic<bool> stopping{false};

  std::mutex mutex;  // guards what follows
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::vector<std::function<void()>> on_stopped;
};

class Session final : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<ssl::context> context,
          std::shared_ptr<HttpsServer::Core> core)
      : context_(std::move(context)),
        stream_(std::move(socket), *context_),
        core_(std::move(core)),
        limits_(core_->options.limits),
        buffer_(limits_.max_header_bytes + limits_.max_body_bytes + kPipelineSlack) {}

  // A session the io_context drops without closing it (its shutdown) leaves no entry behind.
  ~Session() { core_->forget(this); }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->handshake(); });
  }

  // The server stops: an idle connection closes now, a busy one after its answer.
  void server_stopping() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->phase_ == Phase::idle) self->close();
    });
  }

  void close_now() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

 private:
  enum class Phase { handshake, idle, reading, writing, lingering, closed };

  tcp::socket& socket() { return beast::get_lowest_layer(stream_).socket(); }

  void handshake() {
    phase_ = Phase::handshake;
    beast::get_lowest_layer(stream_).expires_after(core_->options.handshake_timeout);
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
      if (ec) return self->close();
      self->wait_for_request();
    });
  }

  // Idle until the client sends again (its first bytes read under
  // idle_timeout); then the rest of the request must arrive within
  // header_timeout. (Not a wait on the raw socket: the TLS layer may
  // already hold the request's bytes.)
  void wait_for_request() {
    if (core_->stopping) return close();
    if (buffer_.size() > 0) return read_request();  // pipelined behind the last one
    phase_ = Phase::idle;
    beast::get_lowest_layer(stream_).expires_after(limits_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstRead),
                            [self = shared_from_this()](const error_code& ec, std::size_t n) {
                              if (self->phase_ != Phase::idle) return;
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_request();
                            });
  }

  void read_request() {
    phase_ = Phase::reading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_->body_limit(limits_.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(limits_.header_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(const error_code& ec) {
    if (phase_ != Phase::reading) return;
    RequestHandler* handler = core_->handler.load();
    if (handler == nullptr) return close();
    if (ec) {
      const unsigned status = unreadable_status(ec);
      if (status == 0) return close();
      // The request line is stored once parsed, even when the header is not
      // done (a Content-Length beyond the body limit fails before that).
      const auto t = parser_->get().target();
      const std::string target(t.data(), t.size());
      handler->unreadable(target.substr(0, target.find('?')), status);
      const std::string message =
          status == 431 ? "request header larger than " + std::to_string(limits_.max_header_bytes) + " bytes"
          : ec == http::error::body_limit
              ? "request body larger than " + std::to_string(limits_.max_body_bytes) + " bytes"
              : "malformed HTTP request";
      keep_alive_ = false;
      unread_input_ = true;
      return send(json_error(static_cast<http::status>(status), message, 11));
    }
    const Request& request = parser_->get();
    Response response;
    try {
      response = handler->handle(request);
    } catch (...) {
      // The loop, and every other connection, goes on. The exception's text
      // is not logged: it may quote the request.
      log::error("a request handler threw; answered 500", {{"listener", "https"}});
      response = json_error(http::status::internal_server_error, "internal error", request.version());
      response.keep_alive(false);
    }
    response.version(request.version());
    keep_alive_ = request.keep_alive() && response.keep_alive() && !core_->stopping;
    unread_input_ = false;
    send(std::move(response));
  }

  void send(Response response) {
    phase_ = Phase::writing;
    response_ = std::move(response);
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(limits_.write_timeout);
    http::async_write(stream_, response_, [self = shared_from_this()](const error_code& ec, std::size_t) {
      if (self->phase_ != Phase::writing) return;
      self->response_ = {};
      if (ec) return self->close();
      if (self->keep_alive_) return self->wait_for_request();
      if (self->unread_input_) return self->linger();
      self->close();
    });
  }

  // Half-close, then drop what still arrives, until the client closes or
  // the linger time is over.
  void linger() {
    phase_ = Phase::lingering;
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    beast::get_lowest_layer(stream_).expires_after(std::min(limits_.header_timeout, kMaxLinger));
    if (!discard_) discard_ = std::make_unique<char[]>(kDiscardBytes);
    drain();
  }

  void drain() {
    // Already-decrypted or buffered bytes are dropped too.
    buffer_.consume(buffer_.size());
    stream_.async_read_some(asio::buffer(discard_.get(), kDiscardBytes),
                            [self = shared_from_this()](const error_code& ec, std::size_t) {
                              if (self->phase_ != Phase::lingering) return;
                              if (ec) return self->close();
                              self->drain();
                            });
  }

  void close() {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
    core_->remove(this);
  }

  // The context outlives the stream built on it.
  std::shared_ptr<ssl::context> context_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  std::shared_ptr<HttpsServer::Core> core_;
  const HttpLimits& limits_;
  Phase phase_ = Phase::handshake;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;  // alive while it is written
  bool keep_alive_ = true;
  bool unread_input_ = false;
  std::unique_ptr<char[]> discard_;
};

// --- Core

void HttpsServer::Core::accept() {
  acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](const error_code& ec, tcp::socket socket) {
    if (self->stopping || !self->acceptor.is_open()) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of descriptors or memory: pause instead of spinning; the
      // connections being served free descriptors.
      log::warn("accept failed; retrying in 100 ms", {{"error", ec.message()}});
      auto retry = std::make_shared<asio::steady_timer>(self->acceptor.get_executor(), 100ms);
      retry->async_wait([self, retry](const error_code&) {
        if (!self->stopping) self->accept();
      });
      return;
    }
    bool full = false;
    {
      std::lock_guard lock(self->mutex);
      full = self->sessions.size() >= self->options.limits.max_connections;
    }
    if (full) {
      error_code ignored;
      socket.close(ignored);
    } else {
      auto session = std::make_shared<Session>(std::move(socket), self->certificates.current(), self);
      self->add(session);
      session->start();
    }
    self->accept();
  });
}

void HttpsServer::Core::add(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mutex);
  sessions.emplace(session.get(), session);
}

void HttpsServer::Core::remove(Session* session) {
  {
    std::lock_guard lock(mutex);
    sessions.erase(session);
  }
  finish_stop_if_done();
}

void HttpsServer::Core::forget(Session* session) {
  std::lock_guard lock(mutex);
  sessions.erase(session);
}

std::vector<std::shared_ptr<Session>> HttpsServer::Core::live() {
  std::lock_guard lock(mutex);
  std::vector<std::shared_ptr<Session>> out;
  out.reserve(sessions.size());
  for (const auto& [raw, weak] : sessions)
    if (auto s = weak.lock()) out.push_back(std::move(s));
  return out;
}

void HttpsServer::Core::stop(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex);
    if (callback) on_stopped.push_back(std::move(callback));
  }
  if (!stopping.exchange(true)) {
    asio::dispatch(acceptor.get_executor(), [self = shared_from_this()] {
      error_code ignored;
      self->acceptor.close(ignored);
      self->grace.expires_after(self->options.limits.stop_grace);
      self->grace.async_wait([self](const error_code& ec) {
        if (!ec) self->close_all();
      });
    });
    for (const auto& s : live()) s->server_stopping();
  }
  finish_stop_if_done();
}

void HttpsServer::Core::close_all() {
  for (const auto& s : live()) s->close_now();
}

void HttpsServer::Core::finish_stop_if_done() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mutex);
    if (!stopping || !sessions.empty() || on_stopped.empty()) return;
    callbacks.swap(on_stopped);
  }
  asio::post(acceptor.get_executor(), [self = shared_from_this()] { self->grace.cancel(); });
  for (auto& callback : callbacks) asio::post(io, std::move(callback));
}

// --- HttpsServer

Result<std::unique_ptr<HttpsServer>> HttpsServer::open(asio::io_context& io, const HttpsServerOptions& options,
                                                       CertificateStore& certificates, RequestHandler& handler) {
  auto address = parse_listen_address(options.listen);
  if (!address) return address.error();
  const auto fail = [&](const std::string& what) {
    return make_error("listen " + options.listen + ": " + what);
  };
  error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address(address->host, ec), address->port);
  if (ec) return fail(ec.message());

  auto core = std::make_shared<Core>(io, options, certificates, handler);
  tcp::acceptor& acceptor = core->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail("socket: " + ec.message());
  // A restarted injector rebinds at once instead of waiting out TIME_WAIT.
  if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) return fail("SO_REUSEADDR: " + ec.message());
  if (acceptor.bind(endpoint, ec); ec) return fail("bind: " + ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen: " + ec.message());
  core->port = acceptor.local_endpoint(ec).port();
  asio::dispatch(acceptor.get_executor(), [core] { core->accept(); });
  return std::unique_ptr<HttpsServer>(new HttpsServer(std::move(core)));
}

HttpsServer::HttpsServer(std::shared_ptr<Core> core) : core_(std::move(core)) {}

HttpsServer::~HttpsServer() {
  core_->handler = nullptr;
  core_->stopping = true;
  asio::dispatch(core_->acceptor.get_executor(), [core = core_] {
    error_code ignored;
    core->acceptor.close(ignored);
    core->grace.cancel();
  });
  core_->close_all();
}

std::uint16_t HttpsServer::port() const { return core_->port; }

void HttpsServer::stop(std::function<void()> on_stopped) { core_->stop(std::move(on_stopped)); }

}  // namespace tw::injector
