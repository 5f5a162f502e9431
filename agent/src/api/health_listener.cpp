// health_listener.cpp -- the TCP listener: three read-only routes, no peer
// checks (nothing it serves is secret), the query string ignored (scrapers
// may add parameters).
#include "tokenwell/agent/api/health_listener.hpp"

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

  void connection_shed() override { metrics_.http_connection_shed("health"); }
  void connection_refused() override { metrics_.http_connection_refused("health"); }

 private:
  const ApiBackend& backend_;
  Metrics& metrics_;
};

}  // namespace

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
  if (!address) return make_error("listen: " + address.error().message);
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
