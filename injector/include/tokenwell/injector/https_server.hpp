// https_server.hpp -- the injector's HTTPS listener (Boost.Beast over
// asio::ssl, OpenSSL 3): accepting within max_connections, a TLS handshake
// with the certificate store's current context (so a rotated certificate is
// presented from the next handshake on), requests read within HttpLimits,
// keep-alive, and a graceful stop. What a request means is the
// RequestHandler's business; this file only moves bytes safely.
//
//   auto server = HttpsServer::open(io, {.listen = "0.0.0.0:8443"}, certificates, handler);
//   if (!server) return fail(server.error().message);
//   std::thread t1([&] { io.run(); }), t2([&] { io.run(); });   // any number of threads
//   ...  (*server)->stop([] { /* every connection closed */ });
//
// (The agent's api/http_server.hpp serves Unix and plain TCP sockets on one
// thread; this one adds TLS and threads. Both take the agent's HttpLimits.)
// Thread-safe: stop() and port() from any thread; connections run on
// strands of the io_context, handlers are called from any of its threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "tokenwell/agent/api/http_limits.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/injector/certificate_store.hpp"

namespace boost::asio {
class io_context;
}

namespace tw::injector {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Called concurrently from the server's threads; an exception becomes a 500.
  virtual Response handle(const Request& request) = 0;
  // A request that could not be read was answered by the server itself
  // (400, 431); `target` is its path when its header was read, else empty.
  virtual void unreadable(std::string_view target, unsigned status) {
    (void)target;
    (void)status;
  }
};

struct HttpsServerOptions {
  // HOST:PORT with an IP literal; port 0 picks a free one.
  std::string listen = "0.0.0.0:8443";
  HttpLimits limits;
  // From accept to a finished TLS handshake.
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(5)};
};

class HttpsServer {
 public:
  // `certificates` and `handler` must outlive the server and its io_context's run().
  static Result<std::unique_ptr<HttpsServer>> open(boost::asio::io_context& io,
                                                   const HttpsServerOptions& options,
                                                   CertificateStore& certificates,
                                                   RequestHandler& handler);
  // Closes the listener and every connection at once.
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  std::uint16_t port() const;
  // Stops accepting, closes idle connections, lets requests in flight
  // finish within limits.stop_grace, then calls `on_stopped` (posted to the
  // io_context) once no connection is left.
  void stop(std::function<void()> on_stopped);

  struct Core;

 private:
  explicit HttpsServer(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace tw::injector
