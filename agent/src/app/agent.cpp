// agent.cpp -- see agent.hpp.
#include "tokenwell/agent/app/agent.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>

#include <atomic>
#include <map>
#include <thread>

#include "tokenwell/agent/api/backend.hpp"
#include "tokenwell/agent/api/health_listener.hpp"
#include "tokenwell/agent/metrics/metrics.hpp"
#include "tokenwell/agent/api/socket_api.hpp"
#include "tokenwell/agent/sources/entra/entra_source.hpp"
#include "tokenwell/agent/sources/file/file_source.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/agent/common/random_source.hpp"
#include "tokenwell/agent/refresh/refresh_state.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

#include "tokenwell/agent/keysets/keyset_runner.hpp"

#include "directory_watcher.hpp"

namespace tw {
namespace {

namespace asio = boost::asio;
using Seconds = std::chrono::duration<double>;

constexpr std::uint32_t kDataCapacity = 16 * 1024;
constexpr auto kHeartbeatEvery = std::chrono::seconds(10);
// Once the IdP's timeouts have passed, a stop no longer waits for fetches.
constexpr auto kStopGrace = std::chrono::seconds(5);

// A source together with the objects it borrows (its HTTP client and
// randomness), so one unique_ptr owns everything a fetch touches.
class OwningSource final : public CredentialSource {
 public:
  OwningSource(std::unique_ptr<CurlHttpClient> http, std::unique_ptr<OsRandomSource> random)
      : http_(std::move(http)), random_(std::move(random)) {}
  void set(std::unique_ptr<CredentialSource> inner) { inner_ = std::move(inner); }
  FetchResult<FetchedCredential> fetch() override { return inner_->fetch(); }
  HttpClient& http() { return *http_; }
  RandomSource& random() { return *random_; }

 private:
  std::unique_ptr<CurlHttpClient> http_;
  std::unique_ptr<OsRandomSource> random_;
  std::unique_ptr<CredentialSource> inner_;
};

std::shared_ptr<CredentialSource> make_source(const CredentialConfig& c, const Clock& clock) {
  return std::visit(
      [&](const auto& s) -> std::shared_ptr<CredentialSource> {
        using T = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<T, FileSourceConfig>) {
          return std::make_shared<FileSource>(s);
        } else {
          auto owning = std::make_shared<OwningSource>(
              std::make_unique<CurlHttpClient>(CurlHttpClientOptions{.ca_file = s.ca_file}),
              std::make_unique<OsRandomSource>());
          SourceContext ctx{owning->http(), clock, owning->random(), c.refresh.timeout};
          if constexpr (std::is_same_v<T, EntraConfig>) owning->set(make_entra_source(s, ctx));
          else owning->set(make_oauth2_source(s, ctx));
          return owning;
        }
      },
      c.settings);
}

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

[[noreturn]] void spdlog_flush_and_exit(int code) {
  std::fflush(stderr);
  std::_Exit(code);
}

bool same_value(const FetchedCredential& a, const FetchedCredential& b) {
  return a.token == b.token && a.username == b.username && a.expires_at == b.expires_at;
}

// One credential's refresh loop on the agent's io_context.
class CredentialRunner : public std::enable_shared_from_this<CredentialRunner> {
 public:
  using OnFresh = std::function<void(CredentialRunner&)>;

  CredentialRunner(asio::io_context& io, CredentialConfig config,
                   std::shared_ptr<CredentialSource> source, const Clock& clock, Metrics& metrics,
                   std::atomic<int>& in_flight_count, OnFresh on_fresh)
      : io_(io),
        in_flight_count_(in_flight_count),
        timer_(io),
        config_(std::move(config)),
        source_(std::move(source)),
        clock_(clock),
        metrics_(metrics),
        state_(config_.refresh, random_),
        on_fresh_(std::move(on_fresh)) {}

  const CredentialConfig& config() const { return config_; }
  const RefreshState& state() const { return state_; }
  bool is_file() const { return std::holds_alternative<FileSourceConfig>(config_.settings); }

  void start() { schedule(state_.start(clock_.now())); }

  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

  // Fetch as soon as possible (a watched file changed).
  void fetch_now() {
    if (stopped_) return;
    if (in_flight_) {
      again_ = true;
      return;
    }
    timer_.cancel();
    begin_fetch();
  }

 private:
  void schedule(TimePoint at) {
    if (stopped_ || at == TimePoint::max()) return;
    const auto delay = std::max(at - clock_.now(), Clock::time_point::duration::zero());
    timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->begin_fetch();
    });
  }

  void begin_fetch() {
    if (stopped_ || in_flight_) return;
    in_flight_ = true;
    log::debug("fetching", {{"credential", config_.name}, {"source", config_.source}});
    // The worker holds the source and a work guard; its result comes back to
    // the loop. It never touches the runner off the loop.
    ++in_flight_count_;
    std::thread([self = shared_from_this(), source = source_,
                 guard = asio::make_work_guard(io_)]() mutable {
      const auto t0 = std::chrono::steady_clock::now();
      auto result = source->fetch();
      const Seconds took = std::chrono::steady_clock::now() - t0;
      auto& io = self->io_;
      --self->in_flight_count_;
      asio::post(io, [self = std::move(self), result = std::move(result), took]() mutable {
        self->finish_fetch(std::move(result), took);
      });
    }).detach();
  }

  void finish_fetch(FetchResult<FetchedCredential> result, Seconds took) {
    in_flight_ = false;
    if (stopped_) return;
    const bool http = !is_file();
    if (const auto* err = std::get_if<FetchError>(&result)) {
      if (http) metrics_.idp_request(config_.name, err->http_status, took);
    } else if (http) {
      metrics_.idp_request(config_.name, 200, took);
    }
    std::optional<FetchedCredential> previous = state_.current();
    auto step = state_.on_result(std::move(result), clock_.now());
    if (step.publish) {
      const bool changed = !previous || !same_value(*previous, *state_.current());
      if (changed) {
        metrics_.credential_refreshed(config_.name, state_.current()->expires_at, took);
        on_fresh_(*this);
      }
      // A file source refreshes on inotify events, not on a timer.
      if (is_file()) step.next_attempt = TimePoint::max();
    } else {
      metrics_.credential_refresh_failed(config_.name, state_.consecutive_failures(), took);
      log::warn("refresh failed; keeping the last good value, retrying",
                {{"credential", config_.name},
                 {"error", state_.last_error()->message},
                 {"http_status", state_.last_error()->http_status},
                 {"consecutive_failures", state_.consecutive_failures()},
                 {"retry_in_s", std::chrono::duration<double>(step.delay).count()},
                 {"has_valid_value", state_.has_valid(clock_.now())}});
    }
    if (again_) {
      again_ = false;
      begin_fetch();
      return;
    }
    schedule(step.next_attempt);
  }

  asio::io_context& io_;
  std::atomic<int>& in_flight_count_;
  asio::steady_timer timer_;
  CredentialConfig config_;
  std::shared_ptr<CredentialSource> source_;
  const Clock& clock_;
  Metrics& metrics_;
  OsRandomSource random_;
  RefreshState state_;
  OnFresh on_fresh_;
  bool in_flight_ = false;
  bool again_ = false;
  bool stopped_ = false;
};

}  // namespace

struct Agent::Impl final : ApiBackend {
  AgentConfig config;
  std::filesystem::path config_path;
  Environment env;
  const Clock& clock;
  asio::io_context io;
  Metrics metrics{TOKENWELL_VERSION_STRING, clock};
  std::unique_ptr<SegmentWriter> writer;
  tokenwell* reader = nullptr;  // the agent reads its own segment for the API
  std::map<std::string, std::shared_ptr<CredentialRunner>> runners;
  std::map<std::string, std::shared_ptr<KeysetRunner>> keyset_runners;
  std::unique_ptr<DirectoryWatcher> watcher;
  std::unique_ptr<SocketApi> socket_api;
  std::unique_ptr<HealthListener> health;
  asio::steady_timer heartbeat_timer{io};
  asio::signal_set signals{io};
  asio::steady_timer stop_timer{io};
  std::chrono::steady_clock::time_point stop_deadline;
  int listeners_open = 0;
  std::atomic<int> fetches_in_flight{0};
  bool stopping = false;

  Impl(AgentConfig c, std::filesystem::path path, Environment e, const Clock& clk)
      : config(std::move(c)), config_path(std::move(path)), env(std::move(e)), clock(clk) {}

  ~Impl() override { tokenwell_close(reader); }

  // --- segment -------------------------------------------------------------
  Result<void> open_segment() {
    const auto entries = static_cast<std::uint32_t>(config.credentials.size() + config.keysets.size());
    auto w = SegmentWriter::open(config.runtime_dir, {std::max(8u, 2 * entries), kDataCapacity}, clock);
    if (!w) return w.error();
    writer = std::move(*w);
    if (int rc = tokenwell_open(config.runtime_dir.c_str(), &reader); rc != TOKENWELL_OK)
      return make_error("cannot read back the segment: " + std::string(tokenwell_strerror(rc)));
    return {};
  }

  // A new entry is published as "pending" so readers get "no valid value"
  // (not "unknown name") and can wait for it; an entry adopted from a
  // previous run keeps its value until a fresh one replaces it.
  void announce(const CredentialConfig& c) {
    if (writer->entry(c.name)) return;
    SlotValue pending;
    pending.kind = SlotKind::credential;
    pending.has_value = false;
    if (auto r = writer->publish(c.name, pending); !r)
      log::error("cannot publish", {{"credential", c.name}, {"error", r.error().message}});
  }

  void announce(const KeysetConfig& k) {
    if (writer->entry(k.name)) return;
    SlotValue pending;
    pending.kind = SlotKind::keyset;
    pending.has_value = false;
    if (auto r = writer->publish(k.name, pending); !r)
      log::error("cannot publish", {{"keyset", k.name}, {"error", r.error().message}});
  }

  // The value a keyset had in the segment (a previous run's), for adoption.
  std::optional<KeysetValue> previous_keyset(const std::string& name) const {
    auto stored = writer->keyset(name);
    if (!stored) return std::nullopt;
    return KeysetValue{std::move(stored->jwks), std::move(stored->signing_key), 0};
  }

  Result<std::uint64_t> publish_keyset_value(const std::string& name, const KeysetValue& value) {
    SlotValue v;
    v.kind = SlotKind::keyset;
    v.secret = value.signing_key.reveal();
    v.public_data = value.jwks;
    v.expires_at = 0;
    return writer->publish(name, v);
  }

  void publish_keyset(const KeysetConfig& k, const KeysetValue& value) {
    auto gen = publish_keyset_value(k.name, value);
    if (!gen) {
      log::error("cannot publish", {{"keyset", k.name}, {"error", gen.error().message}});
      return;
    }
    log::info("published", {{"keyset", k.name},
                            {"generation", *gen},
                            {"keys", static_cast<std::int64_t>(value.keys)},
                            {"signs", !value.signing_key.empty()}});
    if (socket_api) socket_api->notify_published();
  }

  // --- keysets ---------------------------------------------------------------
  void add_keyset(const KeysetConfig& k) {
    auto previous = previous_keyset(k.name);
    announce(k);
    metrics.keyset_added(k.name);
    auto runner = make_keyset_runner(io, k, clock, metrics, fetches_in_flight, std::move(previous),
                                     [this](const KeysetConfig& c, const KeysetValue& v) { publish_keyset(c, v); });
    if (auto dir = runner->watched_directory()) {
      if (auto w = watcher->watch(*dir); !w)
        log::warn("cannot watch; key files are re-read only on POST /v1/keysets/NAME/refresh",
                  {{"keyset", k.name}, {"error", w.error().message}});
    }
    keyset_runners[k.name] = runner;
    runner->start();
  }

  void remove_keyset(const std::string& name) {
    auto it = keyset_runners.find(name);
    if (it == keyset_runners.end()) return;
    it->second->stop();
    keyset_runners.erase(it);
    metrics.keyset_removed(name);
  }

  void publish(CredentialRunner& runner) {
    const auto& cur = *runner.state().current();
    SlotValue v;
    v.kind = SlotKind::credential;
    v.username = cur.username;
    v.secret = cur.token.reveal();
    v.expires_at = cur.expires_at;
    auto gen = writer->publish(runner.config().name, v);
    if (!gen) {
      log::error("cannot publish", {{"credential", runner.config().name}, {"error", gen.error().message}});
      return;
    }
    log::info("published",
              {{"credential", runner.config().name},
               {"generation", *gen},
               {"expires_at", cur.expires_at},
               {"expires_in_s", cur.expires_at ? cur.expires_at - clock.unix_seconds() : 0}});
    if (socket_api) socket_api->notify_published();
  }

  // --- credentials -----------------------------------------------------------
  void add_runner(const CredentialConfig& c) {
    announce(c);
    metrics.credential_added(c.name);
    auto runner = std::make_shared<CredentialRunner>(io, c, make_source(c, clock), clock, metrics,
                                                     fetches_in_flight,
                                                     [this](CredentialRunner& r) { publish(r); });
    if (runner->is_file()) {
      const auto dir = std::get<FileSourceConfig>(c.settings).path.parent_path();
      if (auto w = watcher->watch(dir); !w)
        log::warn("cannot watch; the file is re-read only when a read fails",
                  {{"credential", c.name}, {"error", w.error().message}});
    }
    runners[c.name] = runner;
    runner->start();
  }

  void remove_runner(const std::string& name) {
    auto it = runners.find(name);
    if (it == runners.end()) return;
    it->second->stop();
    runners.erase(it);
    metrics.credential_removed(name);
  }

  void on_directory_changed(const std::filesystem::path& dir) {
    for (auto& [name, runner] : runners) {
      if (!runner->is_file()) continue;
      if (std::get<FileSourceConfig>(runner->config().settings).path.parent_path() == dir)
        runner->fetch_now();
    }
    for (auto& [name, runner] : keyset_runners)
      if (runner->watched_directory() == dir) runner->on_directory_changed();
  }

  // --- reload ------------------------------------------------------------------
  void reload() {
    log::info("reloading config", {{"path", config_path.string()}});
    auto loaded = load_config(config_path, env);
    if (auto* errors = std::get_if<ConfigErrors>(&loaded)) {
      for (const auto& line : errors->lines) log::error("config rejected; keeping the running one", {{"problem", line}});
      metrics.config_reloaded(false);
      return;
    }
    AgentConfig next = std::move(std::get<AgentConfig>(loaded));
    if (next.runtime_dir != config.runtime_dir || next.listen != config.listen)
      log::warn("runtime_dir and listen changes take effect at the next restart");
    next.runtime_dir = config.runtime_dir;
    next.listen = config.listen;
    std::map<std::string, const CredentialConfig*> wanted;
    for (const auto& c : next.credentials) wanted[c.name] = &c;
    std::vector<std::string> removed;
    for (const auto& [name, runner] : runners) {
      auto it = wanted.find(name);
      if (it == wanted.end()) removed.push_back(name);
    }
    for (const auto& name : removed) {
      remove_runner(name);
      if (auto r = writer->remove(name); !r) log::error("cannot remove", {{"credential", name}});
      log::info("credential removed", {{"credential", name}});
    }
    for (const auto& c : next.credentials) {
      auto it = runners.find(c.name);
      if (it != runners.end() && it->second->config().fingerprint == c.fingerprint) continue;
      const bool changed = it != runners.end();
      if (changed) remove_runner(c.name);  // its value stays published until replaced
      add_runner(c);
      log::info(changed ? "credential changed" : "credential added", {{"credential", c.name}});
    }
    std::map<std::string, const KeysetConfig*> wanted_keysets;
    for (const auto& k : next.keysets) wanted_keysets[k.name] = &k;
    std::vector<std::string> removed_keysets;
    for (const auto& [name, runner] : keyset_runners)
      if (!wanted_keysets.count(name)) removed_keysets.push_back(name);
    for (const auto& name : removed_keysets) {
      remove_keyset(name);
      if (auto r = writer->remove(name); !r) log::error("cannot remove", {{"keyset", name}});
      log::info("keyset removed", {{"keyset", name}});
    }
    for (const auto& k : next.keysets) {
      auto it = keyset_runners.find(k.name);
      if (it != keyset_runners.end() && it->second->config().fingerprint == k.fingerprint) continue;
      const bool changed = it != keyset_runners.end();
      if (changed) remove_keyset(k.name);  // its keys stay published (and are adopted) until replaced
      add_keyset(k);
      log::info(changed ? "keyset changed" : "keyset added", {{"keyset", k.name}});
    }
    log::init({next.log.format, next.log.level});
    config = std::move(next);
    metrics.config_reloaded(true);
    if (socket_api) socket_api->notify_published();
  }

  // --- lifecycle ---------------------------------------------------------------
  void heartbeat() {
    writer->heartbeat();
    heartbeat_timer.expires_after(kHeartbeatEvery);
    heartbeat_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) heartbeat();
    });
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
    heartbeat_timer.cancel();
    for (auto& [name, runner] : runners) runner->stop();
    for (auto& [name, runner] : keyset_runners) runner->stop();
    if (watcher) watcher->close();
    if (socket_api) socket_api->stop([this] { --listeners_open; });
    if (health) health->stop([this] { --listeners_open; });
    stop_deadline = std::chrono::steady_clock::now() + kStopGrace;
    finish_stop();
  }

  // The loop ends once the listeners have drained and no fetch is in flight,
  // or at the grace deadline. Checked briefly and only while stopping.
  void finish_stop() {
    if ((listeners_open == 0 && fetches_in_flight.load() == 0) ||
        std::chrono::steady_clock::now() >= stop_deadline) {
      io.stop();
      return;
    }
    stop_timer.expires_after(std::chrono::milliseconds(20));
    stop_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) finish_stop();
    });
  }

  int run() {
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
    auto api = SocketApi::open(io, api_options, *this, metrics);
    if (!api) {
      log::error("cannot open the socket API", {{"error", api.error().message}});
      return 1;
    }
    socket_api = std::move(*api);
    ++listeners_open;
    if (!config.listen.empty()) {
      auto h = HealthListener::open(io, {.listen = config.listen}, *this, metrics);
      if (!h) {
        log::error("cannot listen", {{"listen", config.listen}, {"error", h.error().message}});
        return 1;
      }
      health = std::move(*h);
      ++listeners_open;
    }
    watcher = std::make_unique<DirectoryWatcher>(io, [this](const auto& dir) { on_directory_changed(dir); });
    for (const auto& c : config.credentials) add_runner(c);
    for (const auto& k : config.keysets) add_keyset(k);
    signals.add(SIGTERM);
    signals.add(SIGINT);
    signals.add(SIGHUP);
    wait_signals();
    heartbeat();
    log::info("started", {{"runtime_dir", config.runtime_dir.string()},
                          {"credentials", config.credentials.size()},
                          {"keysets", config.keysets.size()},
                          {"listen", health ? ":" + std::to_string(health->port()) : "off"},
                          {"version", TOKENWELL_VERSION_STRING}});
    io.run();  // returns once stop() has let every listener and timer finish
    if (fetches_in_flight.load() > 0) {
      // A fetch outlived its own timeout and the grace period: its thread
      // still refers to the loop, so end the process here, cleanly logged.
      log::warn("stopped with a fetch still in flight", {{"fetches", fetches_in_flight.load()}});
      spdlog_flush_and_exit(0);
    }
    log::info("stopped");
    return 0;
  }

  // --- ApiBackend ----------------------------------------------------------------
  std::vector<Entry> entries() const override {
    std::vector<Entry> out;
    const std::int64_t now = clock.unix_seconds();
    for (const auto& info : writer->entries()) {
      Entry e;
      e.name = info.name;
      e.kind = info.kind == SlotKind::keyset ? Kind::keyset : Kind::credential;
      e.username = info.username;
      e.expires_at = info.expires_at;
      e.generation = info.generation;
      e.state = !info.has_value ? State::pending
                : (info.expires_at != 0 && info.expires_at <= now) ? State::expired
                                                                    : State::valid;
      if (auto it = runners.find(info.name); it != runners.end()) e.source = it->second->config().source;
      if (auto it = keyset_runners.find(info.name); it != keyset_runners.end())
        e.source = it->second->config().source;
      out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return out;
  }

  Lookup<CredentialValue> credential(std::string_view name) const override {
    const std::string n(name);
    std::vector<char> token(64 * 1024);
    char username[TOKENWELL_USERNAME_MAX + 1];
    size_t len = 0;
    std::int64_t expires_at = 0;
    std::uint64_t generation = 0;
    const int rc = tokenwell_read(reader, n.c_str(), token.data(), token.size(), &len, username,
                                  sizeof username, &expires_at, &generation);
    if (rc == TOKENWELL_ENOTFOUND) return Missing::unknown_name;
    if (rc != TOKENWELL_OK) return Missing::no_valid_value;
    CredentialValue v{username, Secret(std::string(token.data(), len)), expires_at, generation};
    explicit_bzero(token.data(), token.size());
    return v;
  }

  Lookup<std::string> jwks(std::string_view name) const override {
    const std::string n(name);
    auto info = writer->entry(n);
    if (!info || info->kind != SlotKind::keyset) return Missing::unknown_name;
    std::string buf(64 * 1024, '\0');
    for (int attempt = 0; attempt < 4; ++attempt) {
      size_t len = 0;
      const int rc = tokenwell_read_public(reader, n.c_str(), buf.data(), buf.size(), &len, nullptr);
      if (rc == TOKENWELL_OK) {
        buf.resize(len);
        return buf;
      }
      if (rc == TOKENWELL_ETOOSMALL) {
        buf.resize(len + 1);
        continue;
      }
      if (rc == TOKENWELL_ENOTFOUND) return Missing::unknown_name;
      return Missing::no_valid_value;
    }
    return Missing::no_valid_value;
  }

  RefreshReply request_keyset_refresh(std::string_view name) override {
    auto it = keyset_runners.find(std::string(name));
    if (it == keyset_runners.end()) return {RefreshAnswer::unknown_name, std::chrono::seconds(0)};
    const RefetchReply reply = it->second->request_refresh();
    return {reply.accepted ? RefreshAnswer::accepted : RefreshAnswer::rate_limited, reply.retry_after};
  }

  Readiness readiness() const override {
    Readiness r;
    r.ready = true;
    for (const auto& e : entries()) {
      if (e.state == State::valid) continue;
      r.ready = false;
      r.reasons.push_back({e.name, e.state == State::pending ? "no value fetched yet" : "value expired"});
    }
    return r;
  }
};

Agent::Agent(AgentConfig config, std::filesystem::path config_path, Environment env, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(config_path), std::move(env), clock)) {}

Agent::~Agent() = default;

int Agent::run() { return impl_->run(); }

int Agent::run_once() {
  auto& d = *impl_;
  if (auto r = d.open_segment(); !r) {
    log::error("cannot open the segment", {{"error", r.error().message}});
    return 1;
  }
  int failed = 0;
  for (const auto& c : d.config.credentials) {
    d.announce(c);
    OsRandomSource random;
    RefreshState state(c.refresh, random);
    auto result = make_source(c, d.clock)->fetch();
    auto step = state.on_result(std::move(result), d.clock.now());
    if (!step.publish) {
      ++failed;
      log::error("fetch failed", {{"credential", c.name}, {"error", state.last_error()->message}});
      continue;
    }
    const auto& cur = *state.current();
    SlotValue v;
    v.username = cur.username;
    v.secret = cur.token.reveal();
    v.expires_at = cur.expires_at;
    auto gen = d.writer->publish(c.name, v);
    if (!gen) {
      ++failed;
      log::error("cannot publish", {{"credential", c.name}, {"error", gen.error().message}});
      continue;
    }
    log::info("published", {{"credential", c.name}, {"generation", *gen}});
  }
  for (const auto& k : d.config.keysets) {
    auto previous = d.previous_keyset(k.name);
    d.announce(k);
    auto value = load_keyset_once(k, d.clock, std::move(previous));
    if (!value) {
      ++failed;
      log::error("keyset failed", {{"keyset", k.name}, {"error", value.error().message}});
      continue;
    }
    auto gen = d.publish_keyset_value(k.name, *value);
    if (!gen) {
      ++failed;
      log::error("cannot publish", {{"keyset", k.name}, {"error", gen.error().message}});
      continue;
    }
    log::info("published", {{"keyset", k.name}, {"generation", *gen},
                            {"keys", static_cast<std::int64_t>(value->keys)}});
  }
  return failed ? 1 : 0;
}

}  // namespace tw
