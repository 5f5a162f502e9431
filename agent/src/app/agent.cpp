// agent.cpp -- see agent.hpp. The Agent wires the libraries together: the
// registry of runners (registry.hpp), the one publish path (publisher.hpp),
// the API backend (api_backend.hpp), the listeners, signals and inotify.
#include "tokenwell/agent/app/agent.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "tokenwell/agent/api/health_listener.hpp"
#include "tokenwell/agent/api/socket_api.hpp"
#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/agent/config/access.hpp"
#include "tokenwell/agent/keysets/keyset_runner.hpp"
#include "tokenwell/agent/metrics/metrics.hpp"
#include "tokenwell/agent/refresh/credential_runner.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

#include "api_backend.hpp"
#include "directory_watcher.hpp"
#include "publisher.hpp"
#include "registry.hpp"
#include "source_factory.hpp"

namespace tw {
namespace {

namespace asio = boost::asio;

constexpr std::uint32_t kDataCapacity = 16 * 1024;
constexpr auto kHeartbeatEvery = std::chrono::seconds(10);
// Once the IdP's timeouts have passed, a stop no longer waits for fetches.
constexpr auto kStopGrace = std::chrono::seconds(5);

// Every connection to the API costs a file descriptor, and so does every
// fetch, watched directory and key file. Raise the soft limit to the hard one
// (the default soft limit, 1,024, is far below what a pod allows) and keep the
// socket API's connection cap below it, so a flood of idle clients can never
// leave a refresh without a descriptor.
constexpr std::size_t kReservedFds = 256;  // fetches, files, inotify, logs

std::size_t raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? std::max<rlim_t>(limit.rlim_cur, 1 << 20) : limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? std::size_t{1} << 20 : static_cast<std::size_t>(limit.rlim_cur);
}

// The socket API's cap: what is left after the reserve and the TCP
// listener's own cap, at most the configured one.
std::size_t socket_connection_cap(std::size_t open_files, std::size_t configured, std::size_t tcp_cap) {
  const std::size_t reserved = kReservedFds + tcp_cap;
  const std::size_t budget = open_files > 2 * reserved ? open_files - reserved : open_files / 4;
  return std::min(configured, std::max<std::size_t>(budget, 16));
}

[[noreturn]] void flush_and_exit(int code) {
  std::fflush(stderr);
  std::_Exit(code);
}

// The executor the runners use: the real one, plus a look at whether a stop
// can finish each time a fetch comes back.
class ObservedExecutor final : public FetchExecutor {
 public:
  ObservedExecutor(FetchExecutor& inner, std::function<void()> after_done)
      : inner_(inner), after_done_(std::move(after_done)) {}
  void execute(std::function<void()> fetch, std::function<void()> done) override {
    inner_.execute(std::move(fetch), [this, done = std::move(done)] {
      done();
      after_done_();
    });
  }
  int in_flight() const override { return inner_.in_flight(); }

 private:
  FetchExecutor& inner_;
  std::function<void()> after_done_;
};

}  // namespace

struct Agent::Impl final : Registry::Hooks {
  AgentConfig config;
  std::filesystem::path config_path;
  Environment env;
  AgentOptions options;
  asio::io_context io;

  // Services: the caller's, or the real ones.
  std::optional<AsioTimeSource> own_time;
  std::optional<ThreadFetchExecutor> own_executor;
  std::optional<CurlHttpClientFactory> own_http;
  std::optional<OsRandomSource> own_random;
  TimeSource& time;
  const Clock& clock;
  ObservedExecutor executor;
  HttpClientFactory& http;
  RandomSource& random;

  Metrics metrics{TOKENWELL_VERSION_STRING, clock};
  std::unique_ptr<SegmentWriter> writer;
  tokenwell* reader = nullptr;  // the agent reads its own segment for the API
  std::optional<Publisher> publisher;
  Registry registry{*this};
  std::optional<AgentApiBackend> backend;
  std::unique_ptr<DirectoryWatcher> watcher;
  std::unique_ptr<SocketApi> socket_api;
  std::unique_ptr<HealthListener> health;
  asio::signal_set signals{io};
  std::unique_ptr<Timer> heartbeat_timer;
  std::unique_ptr<Timer> stop_timer;
  int listeners_open = 0;
  bool stopping = false;

  Impl(AgentConfig c, std::filesystem::path path, Environment e, AgentOptions o, AgentServices s)
      : config(std::move(c)),
        config_path(std::move(path)),
        env(std::move(e)),
        options(std::move(o)),
        time(s.time ? *s.time : own_time.emplace(io)),
        clock(time.clock()),
        executor(s.executor ? *s.executor : own_executor.emplace(io), [this] { finish_stop_if_idle(); }),
        http(s.http ? *s.http : own_http.emplace()),
        random(s.random ? *s.random : own_random.emplace()) {
    heartbeat_timer = time.create_timer([this] { heartbeat(); });
    stop_timer = time.create_timer([this] {
      log::warn("stop grace period over", {{"fetches_in_flight", executor.in_flight()}});
      io.stop();
    });
  }

  ~Impl() override {
    registry.stop_all();
    tokenwell_close(reader);
  }

  // --- segment -------------------------------------------------------------
  static SegmentAccess segment_access(const AllowConfig& allow) {
    const SegmentPermissions p = segment_permissions(allow);
    return {p.group, p.mode};
  }

  Result<void> open_segment() {
    const auto entries = static_cast<std::uint32_t>(config.credentials.size() + config.keysets.size());
    auto w = SegmentWriter::open(config.runtime_dir, {std::max(8u, 2 * entries), kDataCapacity}, clock,
                                 {.access = segment_access(config.allow),
                                  .runtime_dir = {config.runtime_dir_read_only_for_others}});
    if (!w) return w.error();
    if (struct stat st{}; config.runtime_dir_read_only_for_others && ::stat(config.runtime_dir.c_str(), &st) == 0 &&
                          (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
      log::warn("the runtime directory is writable by every user and has no sticky bit; accepted because "
                "runtime_dir_read_only_for_others says every other container mounts it read-only",
                {{"runtime_dir", config.runtime_dir.string()}});
    writer = std::move(*w);
    if (int rc = tokenwell_open(config.runtime_dir.c_str(), &reader); rc != TOKENWELL_OK)
      return make_error("cannot read back the segment: " + std::string(tokenwell_strerror(rc)));
    publisher.emplace(*writer, clock);
    backend.emplace(*writer, reader, registry, clock);
    return {};
  }

  // --- Registry::Hooks -------------------------------------------------------
  std::shared_ptr<EntryRunner> make_runner(const CredentialConfig& c) override {
    return std::make_shared<CredentialRunner>(
        c, make_source(c, {http, clock, random}), CredentialRunner::Context{time, executor, random, metrics},
        [this](const CredentialConfig& cc, const FetchedCredential& v) { publisher->publish_credential(cc, v); },
        // --once promises a fetch of every credential (helm test checks the
        // IdP with it): nothing is taken over there.
        once_observer ? std::nullopt : publisher->previous_credential(c));
  }

  std::shared_ptr<EntryRunner> make_runner(const KeysetConfig& k) override {
    return make_keyset_runner(k, {time, executor, random, metrics, http}, publisher->previous_keyset(k.name),
                              [this](const KeysetConfig& kc, const KeysetValue& v) {
                                publisher->publish_keyset(kc, v);
                              });
  }

  void adding(EntryRunner& runner) override {
    if (once_observer) once_observer(runner);
    publisher->announce(runner.name(), runner.kind());
    if (runner.kind() == EntryKind::credential) metrics.credential_added(runner.name());
    else metrics.keyset_added(runner.name());
    const auto dir = runner.watched_directory();
    if (!dir || !watcher) return;
    if (auto w = watcher->watch(*dir); !w) {
      if (runner.kind() == EntryKind::credential)
        log::warn("cannot watch; the file is re-read only when a read fails",
                  {{"credential", runner.name()}, {"error", w.error().message}});
      else
        log::warn("cannot watch; key files are re-read only on POST /v1/keysets/NAME/refresh",
                  {{"keyset", runner.name()}, {"error", w.error().message}});
    }
  }

  void removed(const EntryRunner& runner, bool replaced) override {
    if (runner.kind() == EntryKind::credential) metrics.credential_removed(runner.name());
    else metrics.keyset_removed(runner.name());
    if (!replaced) publisher->remove(runner.name(), runner.kind());
  }

  // --- reload ------------------------------------------------------------------
  void apply_log(const LogConfig& log_config) {
    log::init({log_config.format, options.log_level.empty() ? log_config.level : options.log_level});
  }

  void reload() {
    log::info("reloading config", {{"path", config_path.string()}});
    auto loaded = load_config(config_path, env);
    if (auto* errors = std::get_if<ConfigErrors>(&loaded)) {
      for (const auto& line : errors->lines) log::error("config rejected; keeping the running one", {{"problem", line}});
      metrics.config_reloaded(false);
      return;
    }
    AgentConfig next = std::move(std::get<AgentConfig>(loaded));
    if (next.runtime_dir != config.runtime_dir || next.listen != config.listen ||
        next.runtime_dir_read_only_for_others != config.runtime_dir_read_only_for_others)
      log::warn("runtime_dir, runtime_dir_read_only_for_others and listen changes take effect at the next restart");
    next.runtime_dir = config.runtime_dir;
    next.runtime_dir_read_only_for_others = config.runtime_dir_read_only_for_others;
    next.listen = config.listen;
    // `allow` first: the segment's group and mode, then the socket, so both
    // paths change together -- or neither, and the running config stays.
    if (auto access = writer->set_access(segment_access(next.allow)); !access) {
      log::error("config rejected; keeping the running one", {{"problem", "allow: " + access.error().message}});
      (void)writer->set_access(segment_access(config.allow));
      metrics.config_reloaded(false);
      return;
    }
    if (socket_api) socket_api->set_allow(SocketAllowList{next.allow.uids, next.allow.gids});
    registry.apply(next);
    apply_log(next.log);
    config = std::move(next);
    log::info("config reloaded", {{"path", config_path.string()}});
    metrics.config_reloaded(true);
    publisher->notify();
  }

  // --- lifecycle ---------------------------------------------------------------
  Result<void> start() {
    if (auto r = open_segment(); !r) return r;
    registry.apply(config);
    return {};
  }

  void heartbeat() {
    writer->heartbeat();
    heartbeat_timer->arm(kHeartbeatEvery);
  }

  void wait_signals() {
    signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signals();
        return;
      }
      log::info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      stop();
    });
  }

  void stop() {
    if (stopping) return;
    stopping = true;
    signals.cancel();
    heartbeat_timer->cancel();
    registry.stop_all();
    if (watcher) watcher->close();
    const auto listener_stopped = [this] {
      --listeners_open;
      finish_stop_if_idle();
    };
    if (socket_api) socket_api->stop(listener_stopped);
    if (health) health->stop(listener_stopped);
    stop_timer->arm(kStopGrace);
    finish_stop_if_idle();
  }

  // The loop ends once the listeners have drained and no fetch is in
  // flight, or when the grace period is over (stop_timer).
  void finish_stop_if_idle() {
    if (stopping && listeners_open == 0 && executor.in_flight() == 0) io.stop();
  }

  int run() {
    // Before anything is published: a reader that sees the segment may stop
    // us at once, and a SIGTERM must then end the agent gracefully (exit 0),
    // not by the default action. Asio queues it until the loop runs.
    signals.add(SIGTERM);
    signals.add(SIGINT);
    signals.add(SIGHUP);
    if (auto r = open_segment(); !r) {
      log::error("cannot open the segment", {{"error", r.error().message}});
      return 1;
    }
    const std::size_t open_files = raise_open_file_limit();
    SocketApiOptions api_options;
    api_options.path = config.runtime_dir / "agent.sock";
    api_options.allow = SocketAllowList{config.allow.uids, config.allow.gids};
    api_options.limits.max_connections = socket_connection_cap(
        open_files, api_options.limits.max_connections, HealthListenerOptions{}.limits.max_connections);
    log::debug("connection limits", {{"open_files", static_cast<std::int64_t>(open_files)},
                                     {"socket_max_connections",
                                      static_cast<std::int64_t>(api_options.limits.max_connections)}});
    auto api = SocketApi::open(io, api_options, *backend, metrics, time);
    if (!api) {
      log::error("cannot open the socket API", {{"error", api.error().message}});
      return 1;
    }
    socket_api = std::move(*api);
    publisher->on_published([this] { socket_api->notify_published(); });
    ++listeners_open;
    if (!config.listen.empty()) {
      auto h = HealthListener::open(io, {.listen = config.listen}, *backend, metrics, time);
      if (!h) {
        log::error("cannot listen", {{"listen", config.listen}, {"error", h.error().message}});
        return 1;
      }
      health = std::move(*h);
      ++listeners_open;
    }
    watcher = std::make_unique<DirectoryWatcher>(io, [this](const auto& dir) { registry.on_directory_changed(dir); });
    registry.apply(config);
    wait_signals();
    heartbeat();
    log::info("started", {{"runtime_dir", config.runtime_dir.string()},
                          {"credentials", config.credentials.size()},
                          {"keysets", config.keysets.size()},
                          {"listen", health ? ":" + std::to_string(health->port()) : "off"},
                          {"version", TOKENWELL_VERSION_STRING}});
    io.run();  // returns once stop() has let every listener and fetch finish
    if (executor.in_flight() > 0) {
      // A fetch outlived its own timeout and the grace period: its thread
      // still refers to the loop, so end the process here, cleanly logged.
      log::warn("stopped with a fetch still in flight", {{"fetches", executor.in_flight()}});
      flush_and_exit(0);
    }
    log::info("stopped");
    return 0;
  }

  // --once: the same runners, until each has had its first outcome.
  int run_once() {
    if (auto r = open_segment(); !r) {
      log::error("cannot open the segment", {{"error", r.error().message}});
      return 1;
    }
    std::size_t waiting = config.credentials.size() + config.keysets.size();
    int failed = 0;
    once_observer = [this, &waiting, &failed](EntryRunner& runner) {
      runner.on_outcome([this, &waiting, &failed, &runner, first = true](bool ok) mutable {
        if (!first) return;
        first = false;
        if (!ok) {
          ++failed;
          log::error(runner.kind() == EntryKind::keyset ? "keyset failed" : "fetch failed",
                     {{runner.kind() == EntryKind::keyset ? "keyset" : "credential", runner.name()}});
        }
        if (--waiting == 0) io.stop();
      });
    };
    registry.apply(config);
    if (waiting > 0) io.run();
    registry.stop_all();
    return failed ? 1 : 0;
  }
  std::function<void(EntryRunner&)> once_observer;
};

Agent::Agent(AgentConfig config, std::filesystem::path config_path, Environment env, AgentOptions options,
             AgentServices services)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(config_path), std::move(env), std::move(options),
                                   services)) {}

Agent::~Agent() = default;

int Agent::run() { return impl_->run(); }
int Agent::run_once() { return impl_->run_once(); }
Result<void> Agent::start() { return impl_->start(); }
void Agent::reload() { impl_->reload(); }
ApiBackend& Agent::api() { return *impl_->backend; }

}  // namespace tw
