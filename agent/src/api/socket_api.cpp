// socket_api.cpp -- the Unix socket: binding it safely, authorizing each
// caller by SO_PEERCRED, and counting every answer by route template.
#include "tokenwell/agent/api/socket_api.hpp"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "http_server.hpp"
#include "log_throttle.hpp"
#include "responses.hpp"
#include "socket_routes.hpp"

namespace tw {
namespace {

using namespace std::chrono_literals;
using api::Deferred;
using api::Outcome;
using api::PeerCredentials;
using api::Request;
using api::Response;
using UnixServer = api::HttpServer<boost::asio::local::stream_protocol>;

constexpr std::string_view kListener = "socket API";

std::string errno_text(int err) { return strerror(err); }

// Whether a process accepts connections on the socket at `path`: then it is
// not stale, and replacing it would cut that process off.
bool socket_in_use(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::copy(path.begin(), path.end(), addr.sun_path);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  // EAGAIN: a listener whose backlog is full is still a listener.
  const bool in_use = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
  ::close(fd);
  return in_use;
}

class SocketHandler final : public api::RequestHandler {
 public:
  SocketHandler(ApiBackend& backend, Metrics& metrics, SocketAllowList allow,
                api::LongPollLimits long_poll, const Clock& clock, const HttpLimits& limits)
      : metrics_(metrics),
        allow_(std::move(allow)),
        routes_(backend, long_poll),
        max_connections_(limits.max_connections),
        max_connections_per_uid_(limits.max_connections_per_uid),
        denied_log_(clock, 1s),
        refused_log_(clock, 10s),
        refused_for_uid_log_(clock, 10s) {}

  // A caller not in `allow` is refused here, when its connection is
  // accepted: it never takes a slot (the 403 is written by the server).
  bool admit(const std::optional<PeerCredentials>& peer) override {
    if (permitted(peer)) return true;
    denied(peer, api::route_label(api::SocketRoute::unknown));
    return false;
  }

  Outcome handle(const Request& request, const std::optional<PeerCredentials>& peer) override {
    const api::RouteMatch match = api::match_socket_route(
        std::string_view(request.target().data(), request.target().size()));
    const std::string_view route = api::route_label(match.route);
    // Checked again per request: a reload may have narrowed `allow` since
    // this connection was admitted.
    if (!permitted(peer)) {
      denied(peer, route);
      Response r = api::json_error(boost::beast::http::status::forbidden, "forbidden");
      r.keep_alive(false);
      return r;
    }

    Outcome outcome = routes_.handle(request, match);
    if (const Response* response = std::get_if<Response>(&outcome)) {
      metrics_.socket_request(route, response->result_int());
      return outcome;
    }
    // A long-poll is counted when it is answered, with the code it got.
    Deferred& deferred = std::get<Deferred>(outcome);
    deferred.ready = [this, route, ready = std::move(deferred.ready)] {
      std::optional<Response> r = ready();
      if (r) metrics_.socket_request(route, r->result_int());
      return r;
    };
    deferred.settle = [this, route, settle = std::move(deferred.settle)] {
      Response r = settle();
      metrics_.socket_request(route, r.result_int());
      return r;
    };
    return outcome;
  }

  void answered_unreadable(unsigned status) override {
    metrics_.socket_request(api::route_label(api::SocketRoute::unknown), status);
  }

  void connections_changed(std::size_t open) override { metrics_.socket_connections(open); }

  void set_allow(SocketAllowList allow) { allow_ = std::move(allow); }

  void connection_refused() override {
    metrics_.socket_connection_refused();
    if (std::uint64_t skipped = 0; refused_log_.allow(skipped))
      log(log::Level::warn, "max_connections reached; new connections are closed at once",
          {{"max_connections", static_cast<std::int64_t>(max_connections_)},
           {"suppressed", static_cast<std::int64_t>(skipped)}});
  }

  void connection_refused_for_uid(uid_t uid) override {
    metrics_.socket_connection_refused();
    if (std::uint64_t skipped = 0; refused_for_uid_log_.allow(skipped))
      log(log::Level::warn, "a uid has max_connections_per_uid open; its new connections are closed at once",
          {{"uid", static_cast<std::int64_t>(uid)},
           {"max_connections_per_uid", static_cast<std::int64_t>(max_connections_per_uid_)},
           {"suppressed", static_cast<std::int64_t>(skipped)}});
  }

 private:
  bool permitted(const std::optional<PeerCredentials>& peer) const {
    return peer && allow_.permits(peer->uid, peer->gid, peer->groups);
  }

  // Counts and logs (rate-limited) a caller answered 403.
  void denied(const std::optional<PeerCredentials>& peer, std::string_view route) {
    metrics_.socket_denied();
    metrics_.socket_request(route, 403);
    // Who asked, never what: the request itself stays out of the log.
    if (std::uint64_t skipped = 0; denied_log_.allow(skipped)) {
      const auto suppressed = static_cast<std::int64_t>(skipped);
      if (peer)
        log(log::Level::warn, "caller denied: uid and gid not in allow",
            {{"uid", static_cast<std::int64_t>(peer->uid)},
             {"gid", static_cast<std::int64_t>(peer->gid)},
             {"pid", static_cast<std::int64_t>(peer->pid)},
             {"suppressed", suppressed}});
      else
        log(log::Level::warn, "caller denied: the kernel gave no peer credentials",
            {{"suppressed", suppressed}});
    }
  }

  void log(log::Level level, std::string_view message, std::vector<log::Field> fields) const {
    fields.insert(fields.begin(), log::Field("listener", kListener));
    log::write(level, message, fields);
  }

  Metrics& metrics_;
  SocketAllowList allow_;
  api::SocketRoutes routes_;
  const std::size_t max_connections_;
  const std::size_t max_connections_per_uid_;
  api::LogThrottle denied_log_;
  api::LogThrottle refused_log_;
  api::LogThrottle refused_for_uid_log_;
};

// A quarter of the slots, at least 16: one caller flooding the socket
// leaves the rest to the others.
std::size_t per_uid_share(std::size_t max_connections) {
  return std::max<std::size_t>(max_connections / 4, 16);
}

}  // namespace

SocketAllowList SocketAllowList::own_ids() { return {{::getuid()}, {::getgid()}}; }

bool SocketAllowList::permits(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const {
  const auto allowed_gid = [&](gid_t g) { return std::find(gids.begin(), gids.end(), g) != gids.end(); };
  return std::find(uids.begin(), uids.end(), uid) != uids.end() || allowed_gid(gid) ||
         std::any_of(groups.begin(), groups.end(), allowed_gid);
}

struct SocketApi::Impl {
  Impl(boost::asio::io_context& io_context, const SocketApiOptions& options, ApiBackend& backend,
       Metrics& metrics, const Clock& clock)
      : io(io_context),
        path(options.path),
        handler(backend, metrics, options.allow, {options.default_wait, options.max_wait},
                clock, options.limits) {}

  // Removes the socket file if it is still the one this agent bound: a
  // newer agent may already have replaced it.
  void remove_socket_file() {
    if (removed.exchange(true)) return;
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0 && st.st_dev == dev && st.st_ino == ino)
      ::unlink(path.c_str());
  }

  boost::asio::io_context& io;
  std::filesystem::path path;
  dev_t dev = 0;
  ino_t ino = 0;
  std::atomic<bool> removed{false};
  SocketHandler handler;
  std::shared_ptr<UnixServer> server;
};

Result<std::unique_ptr<SocketApi>> SocketApi::open(boost::asio::io_context& io,
                                                   SocketApiOptions options, ApiBackend& backend,
                                                   Metrics& metrics, TimeSource& time) {
  const std::string path = options.path.string();
  const auto fail = [&](const std::string& what) {
    return make_error("socket API: " + path + ": " + what);
  };
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path))
    return fail("a socket path must be 1 to " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                " bytes long");

  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return fail("exists and is not a socket; not replacing it");
    if (socket_in_use(path)) return fail("another process is serving on this socket");
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return fail("cannot remove the stale socket: " + errno_text(errno));
  }

  namespace local = boost::asio::local;
  local::stream_protocol::acceptor acceptor(io);
  boost::system::error_code ec;
  if (acceptor.open(local::stream_protocol(), ec); ec) return fail("socket: " + ec.message());
  if (acceptor.bind(local::stream_protocol::endpoint(path), ec); ec)
    return fail("bind: " + ec.message());
  // Before listen(), so nobody connects while the mode is still the umask's.
  if (::chmod(path.c_str(), 0666) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return fail("chmod 0666: " + errno_text(err));
  }
  if (::lstat(path.c_str(), &st) != 0) return fail("stat: " + errno_text(errno));
  if (acceptor.listen(boost::asio::socket_base::max_listen_connections, ec); ec) {
    ::unlink(path.c_str());
    return fail("listen: " + ec.message());
  }

  if (options.limits.max_connections_per_uid == 0)
    options.limits.max_connections_per_uid = per_uid_share(options.limits.max_connections);
  auto impl = std::make_unique<Impl>(io, options, backend, metrics, time.clock());
  impl->dev = st.st_dev;
  impl->ino = st.st_ino;
  impl->server = std::make_shared<UnixServer>(std::move(acceptor), options.limits, impl->handler,
                                              kListener, time);
  impl->server->start();
  metrics.socket_connections(0);
  return std::unique_ptr<SocketApi>(new SocketApi(std::move(impl)));
}

SocketApi::SocketApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SocketApi::~SocketApi() {
  impl_->server->detach();
  impl_->remove_socket_file();
}

void SocketApi::set_allow(SocketAllowList allow) { impl_->handler.set_allow(std::move(allow)); }

void SocketApi::notify_published() {
  boost::asio::post(impl_->io, [server = std::weak_ptr<UnixServer>(impl_->server)] {
    if (auto s = server.lock()) s->wake_all();
  });
}

void SocketApi::stop(std::function<void()> on_stopped) {
  impl_->remove_socket_file();  // new clients see "no agent" at once
  boost::asio::post(impl_->io, [server = std::weak_ptr<UnixServer>(impl_->server),
                                on_stopped = std::move(on_stopped)]() mutable {
    if (auto s = server.lock()) s->stop(std::move(on_stopped));
  });
}

const std::filesystem::path& SocketApi::path() const { return impl_->path; }

}  // namespace tw
