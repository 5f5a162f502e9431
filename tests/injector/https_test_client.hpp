// https_test_client.hpp -- a small HTTPS client for the injector's process
// tests: real TCP, a real TLS handshake (OpenSSL), the certificate the
// server presented, keep-alive requests; every wait bounded (each call runs
// its own io_context until the operation's deadline).
//
//   auto c = HttpsTestClient::connect(port);          // nullopt + reason on failure
//   std::string der = c->peer_certificate_der();
//   auto reply = c->request(http::verb::post, "/mutate", body);
#pragma once

#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace tw::injector::test {

namespace http = boost::beast::http;
using Reply = http::response<http::string_body>;

class HttpsTestClient {
 public:
  static constexpr std::chrono::seconds kTimeout{10};

  // Connects to 127.0.0.1:port and completes a TLS handshake. The server's
  // certificate is not verified here: the tests compare it byte for byte.
  static std::optional<HttpsTestClient> connect(std::uint16_t port, std::string* error = nullptr) {
    HttpsTestClient c;
    boost::system::error_code ec;
    auto& tcp = boost::beast::get_lowest_layer(*c.stream_);
    tcp.expires_after(kTimeout);
    tcp.async_connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
                      [&](const boost::system::error_code& e) { ec = e; });
    c.run();
    if (!ec) {
      tcp.expires_after(kTimeout);
      c.stream_->async_handshake(boost::asio::ssl::stream_base::client,
                                 [&](const boost::system::error_code& e) { ec = e; });
      c.run();
    }
    if (ec) {
      if (error) *error = ec.message();
      return std::nullopt;
    }
    return c;
  }

  // DER of the certificate the server presented in this connection's handshake.
  std::string peer_certificate_der() {
    X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
    if (cert == nullptr) return {};
    std::string der(static_cast<std::size_t>(i2d_X509(cert, nullptr)), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(cert, &p);
    X509_free(cert);
    return der;
  }

  // One request on this connection; nullopt (and why) if it failed.
  std::optional<Reply> request(http::verb method, const std::string& target, std::string body = {},
                               std::string* error = nullptr, const std::string& content_type = "application/json") {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "tokenwell-injector.test.svc");
    if (!body.empty()) req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    boost::system::error_code ec;
    auto& tcp = boost::beast::get_lowest_layer(*stream_);
    tcp.expires_after(kTimeout);
    http::async_write(*stream_, req, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
    run();
    Reply reply;
    if (!ec) {
      tcp.expires_after(kTimeout);
      http::async_read(*stream_, buffer_, reply, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
      run();
    }
    if (ec) {
      if (error) *error = ec.message();
      return std::nullopt;
    }
    return reply;
  }

  // Raw bytes after the handshake (for requests that are not HTTP), then
  // the reply, if one comes.
  std::optional<Reply> raw(const std::string& bytes, std::string* error = nullptr) {
    boost::system::error_code ec;
    auto& tcp = boost::beast::get_lowest_layer(*stream_);
    tcp.expires_after(kTimeout);
    boost::asio::async_write(*stream_, boost::asio::buffer(bytes),
                             [&](const boost::system::error_code& e, std::size_t) { ec = e; });
    run();
    Reply reply;
    if (!ec) {
      tcp.expires_after(kTimeout);
      http::async_read(*stream_, buffer_, reply, [&](const boost::system::error_code& e, std::size_t) { ec = e; });
      run();
    }
    if (ec) {
      if (error) *error = ec.message();
      return std::nullopt;
    }
    return reply;
  }

 private:
  HttpsTestClient()
      : io_(std::make_unique<boost::asio::io_context>()),
        context_(std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client)),
        stream_(std::make_unique<boost::beast::ssl_stream<boost::beast::tcp_stream>>(*io_, *context_)) {
    context_->set_verify_mode(boost::asio::ssl::verify_none);
  }
  void run() {
    io_->restart();
    io_->run();
  }

  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<boost::asio::ssl::context> context_;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> stream_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace tw::injector::test
