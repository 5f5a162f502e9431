// health_listener.cpp -- the TCP listener: three read-only routes, no peer
// checks (nothing it serves is secret), the query string ignored (scrapers
// may add parameters).
#include "tokenwell/agent/api/health_listener.hpp"

#include <arpa/inet.h>

#include <charconv>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>

#include "http_server.hpp"
#include "responses.hpp"

namespace tw {
namespace {

using api::Outcome;
using api::PeerCredentials;
using api::Request;
using api::Response;
using TcpServer = api::HttpServer<boost::asio::ip::tcp>;
namespace http = boost::beast::http;

class HealthHandler final : public api::RequestHandler {
 public:
  HealthHandler(const ApiBackend& backend, Metrics& metrics)
      : backend_(backend), metrics_(metrics) {}

  Outcome handle(const Request& request, const std::optional<PeerCredentials>&) override {
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (path != "/metrics" && path != "/healthz" && path != "/readyz")
      return api::json_error(http::status::not_found, "not found");
    if (request.method() != http::verb::get) return api::method_not_allowed("GET");

    if (path == "/healthz") return api::health_response();
    const ApiBackend::Readiness readiness = backend_.readiness();
    metrics_.set_ready(readiness.ready);
    if (path == "/readyz") return api::readiness_response(readiness);

    Response r{http::status::ok, 11};
    r.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    r.body() = metrics_.scrape();
    return r;
  }

 private:
  const ApiBackend& backend_;
  Metrics& metrics_;
};

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
  const auto fail = [&](const char* why) {
    return make_error("listen address '" + std::string(text) + "': " + why);
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || text.substr(close + 1, 1) != ":")
      return fail("expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr v6{};
    if (host.empty() || ::inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1)
      return fail("not an IPv6 address");
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    in_addr v4{};
    if (::inet_pton(AF_INET, std::string(host).c_str(), &v4) != 1)
      return fail("not an IPv4 address (IPv6 goes in brackets: [::]:9464)");
  }
  std::uint16_t number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size())
    return fail("the port must be a number from 0 to 65535");
  return ListenAddress{std::string(host), number};
}

struct HealthListener::Impl {
  Impl(const ApiBackend& backend, Metrics& metrics) : handler(backend, metrics) {}
  HealthHandler handler;
  std::shared_ptr<TcpServer> server;
  boost::asio::io_context* io = nullptr;
  std::uint16_t port = 0;  // as bound: port 0 in `listen` picks one
};

Result<std::unique_ptr<HealthListener>> HealthListener::open(boost::asio::io_context& io,
                                                             const HealthListenerOptions& options,
                                                             const ApiBackend& backend,
                                                             Metrics& metrics, TimeSource& time) {
  auto address = parse_listen_address(options.listen);
  if (!address) return address.error();
  using boost::asio::ip::tcp;
  boost::system::error_code ec;
  const tcp::endpoint endpoint(boost::asio::ip::make_address(address->host, ec), address->port);
  const auto fail = [&](const std::string& what) {
    return make_error("health listener: " + options.listen + ": " + what);
  };
  if (ec) return fail(ec.message());

  tcp::acceptor acceptor(io);
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail("socket: " + ec.message());
  // A restarted agent rebinds at once instead of waiting out TIME_WAIT.
  if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec)
    return fail("SO_REUSEADDR: " + ec.message());
  if (acceptor.bind(endpoint, ec); ec) return fail("bind: " + ec.message());
  if (acceptor.listen(boost::asio::socket_base::max_listen_connections, ec); ec)
    return fail("listen: " + ec.message());

  auto impl = std::make_unique<Impl>(backend, metrics);
  impl->io = &io;
  impl->port = acceptor.local_endpoint(ec).port();
  impl->server = std::make_shared<TcpServer>(std::move(acceptor), options.limits, impl->handler,
                                             "health listener", time);
  impl->server->start();
  return std::unique_ptr<HealthListener>(new HealthListener(std::move(impl)));
}

HealthListener::HealthListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HealthListener::~HealthListener() { impl_->server->detach(); }

std::uint16_t HealthListener::port() const { return impl_->port; }

void HealthListener::stop(std::function<void()> on_stopped) {
  boost::asio::post(*impl_->io, [server = std::weak_ptr<TcpServer>(impl_->server),
                                 on_stopped = std::move(on_stopped)]() mutable {
    if (auto s = server.lock()) s->stop(std::move(on_stopped));
  });
}

}  // namespace tw
