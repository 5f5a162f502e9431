// keyset_runner.cpp -- see keyset_runner.hpp.
#include "tokenwell/agent/keysets/keyset_runner.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <thread>

#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/keysets/jwks_keyset.hpp"
#include "tokenwell/agent/keysets/key_files.hpp"
#include "tokenwell/agent/keysets/key_rotation.hpp"
#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/agent/common/random_source.hpp"

namespace tw {
namespace {

namespace asio = boost::asio;
using std::chrono::seconds;

// A generated key that cannot be made (out of entropy, a broken provider) is
// tried again this often; the keys already published stay.
constexpr auto kGenerateRetry = std::chrono::seconds(5);

// A timer on the loop that fires at a Clock time point.
class ClockTimer {
 public:
  ClockTimer(asio::io_context& io, const Clock& clock) : timer_(io), clock_(clock) {}
  template <typename F>
  void at(TimePoint when, F&& f) {
    if (when == TimePoint::max()) return;
    const auto delay = std::max(when - clock_.now(), Clock::time_point::duration::zero());
    timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::min<Clock::time_point::duration>(delay, std::chrono::hours(24 * 365))));
    timer_.async_wait([f = std::forward<F>(f)](boost::system::error_code ec) {
      if (!ec) f();
    });
  }
  void cancel() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
  const Clock& clock_;
};

// ---- jwks ------------------------------------------------------------------

class JwksRunner final : public KeysetRunner, public std::enable_shared_from_this<JwksRunner> {
 public:
  JwksRunner(asio::io_context& io, KeysetConfig config, const Clock& clock, Metrics& metrics,
             std::atomic<int>& in_flight_count, OnValue on_value)
      : KeysetRunner(std::move(config)),
        io_(io),
        clock_(clock),
        metrics_(metrics),
        in_flight_count_(in_flight_count),
        timer_(io, clock),
        settings_(std::get<JwksKeysetConfig>(config_.settings)),
        http_(std::make_shared<CurlHttpClient>(CurlHttpClientOptions{.ca_file = settings_.ca_file})),
        state_(settings_, random_),
        on_value_(std::move(on_value)) {}

  void start() override { schedule(state_.start(clock_.now())); }
  void stop() override {
    stopped_ = true;
    timer_.cancel();
  }

  RefetchReply request_refresh() override {
    if (in_flight_) return {true, seconds(0)};
    const auto d = state_.on_demand(clock_.now());
    metrics_.keyset_refresh_requested(config_.name, d.accepted);
    if (!d.accepted) return {false, d.retry_after};
    log::info("keyset refetch requested", {{"keyset", config_.name}});
    timer_.cancel();
    begin_fetch();
    return {true, seconds(0)};
  }

 private:
  void schedule(TimePoint at) {
    if (stopped_) return;
    timer_.at(at, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->begin_fetch();
    });
  }

  void begin_fetch() {
    if (stopped_ || in_flight_) return;
    in_flight_ = true;
    state_.fetch_started(clock_.now());
    ++in_flight_count_;
    std::thread([self = shared_from_this(), http = http_, guard = asio::make_work_guard(io_)]() mutable {
      auto result = JwksFetcher(self->settings_, *http, self->clock_).fetch();
      auto& io = self->io_;
      --self->in_flight_count_;
      asio::post(io, [self = std::move(self), result = std::move(result)]() mutable {
        self->finish_fetch(std::move(result));
      });
    }).detach();
  }

  void finish_fetch(std::variant<FetchedJwks, JwksFetchError> result) {
    in_flight_ = false;
    if (stopped_) return;
    auto step = state_.on_result(std::move(result), clock_.now());
    if (const auto& err = state_.last_error()) {
      metrics_.keyset_refresh_failed(config_.name, state_.consecutive_failures());
      log::warn("keyset refresh failed; keeping the last good set, retrying",
                {{"keyset", config_.name},
                 {"error", err->message},
                 {"http_status", err->http_status},
                 {"consecutive_failures", state_.consecutive_failures()},
                 {"has_keys", state_.current().has_value()}});
    } else {
      const auto& cur = *state_.current();
      for (const auto& why : cur.skipped)
        log::warn("JWKS key skipped", {{"keyset", config_.name}, {"problem", why}});
      metrics_.keyset_refreshed(config_.name, cur.keys, cur.skipped.size());
      if (step.publish) on_value_(config_, KeysetValue{cur.jwks, Secret(), cur.keys});
    }
    schedule(step.next_attempt);
  }

  asio::io_context& io_;
  const Clock& clock_;
  Metrics& metrics_;
  std::atomic<int>& in_flight_count_;
  ClockTimer timer_;
  JwksKeysetConfig settings_;
  std::shared_ptr<CurlHttpClient> http_;
  OsRandomSource random_;
  JwksRefreshState state_;
  OnValue on_value_;
  bool in_flight_ = false;
  bool stopped_ = false;
};

// ---- key_files -----------------------------------------------------------------

class KeyFilesRunner final : public KeysetRunner {
 public:
  KeyFilesRunner(KeysetConfig config, Metrics& metrics, OnValue on_value)
      : KeysetRunner(std::move(config)),
        directory_(std::get<KeyFilesKeysetConfig>(config_.settings).directory),
        metrics_(metrics),
        on_value_(std::move(on_value)) {}

  void start() override { load(); }
  void stop() override { stopped_ = true; }
  RefetchReply request_refresh() override {
    metrics_.keyset_refresh_requested(config_.name, true);
    load();
    return {true, seconds(0)};
  }
  std::optional<std::filesystem::path> watched_directory() const override { return directory_; }
  void on_directory_changed() override { load(); }

 private:
  void load() {
    if (stopped_) return;
    auto set = load_key_files(directory_);
    if (!set) {
      ++failures_;
      metrics_.keyset_refresh_failed(config_.name, failures_);
      log::warn("key files unusable; keeping the last good set",
                {{"keyset", config_.name}, {"error", set.error().message}});
      return;
    }
    failures_ = 0;
    for (const auto& why : set->skipped)
      log::warn("key file skipped", {{"keyset", config_.name}, {"problem", why}});
    metrics_.keyset_refreshed(config_.name, set->keys, set->skipped.size());
    if (set->jwks == last_jwks_ && set->signing_kid == last_kid_) return;
    last_jwks_ = set->jwks;
    last_kid_ = set->signing_kid;
    log::info("key files loaded", {{"keyset", config_.name},
                                   {"keys", static_cast<std::int64_t>(set->keys)},
                                   {"signing_kid", set->signing_kid}});
    on_value_(config_, KeysetValue{set->jwks, set->signing_key, set->keys});
  }

  std::filesystem::path directory_;
  Metrics& metrics_;
  OnValue on_value_;
  std::string last_jwks_;
  std::string last_kid_;
  unsigned failures_ = 0;
  bool stopped_ = false;
};

// ---- generated -------------------------------------------------------------------

void adopt_previous(KeyRotation& rotation, const std::string& name,
                    const std::optional<KeysetValue>& previous, TimePoint now) {
  if (!previous || previous->signing_key.empty()) return;
  if (auto r = rotation.adopt(previous->jwks, previous->signing_key.reveal(), now); !r) {
    log::warn("cannot adopt the previous keys; starting a new key set",
              {{"keyset", name}, {"error", r.error().message}});
    return;
  }
  log::info("adopted the previous keys", {{"keyset", name},
                                          {"keys", static_cast<std::int64_t>(rotation.keys().size())},
                                          {"signing_kid", rotation.active_kid()}});
}

class GeneratedRunner final : public KeysetRunner, public std::enable_shared_from_this<GeneratedRunner> {
 public:
  GeneratedRunner(asio::io_context& io, KeysetConfig config, const Clock& clock, Metrics& metrics,
                  std::optional<KeysetValue> previous, OnValue on_value)
      : KeysetRunner(std::move(config)),
        clock_(clock),
        metrics_(metrics),
        timer_(io, clock),
        rotation_(std::get<GeneratedKeysetConfig>(config_.settings), generate_jwk),
        on_value_(std::move(on_value)) {
    adopt_previous(rotation_, config_.name, previous, clock_.now());
  }

  void start() override { advance(); }
  void stop() override {
    stopped_ = true;
    timer_.cancel();
  }
  RefetchReply request_refresh() override {
    // Its own keys: nothing to fetch, the JWKS is always complete.
    metrics_.keyset_refresh_requested(config_.name, true);
    return {true, seconds(0)};
  }

 private:
  void advance() {
    if (stopped_) return;
    const TimePoint now = clock_.now();
    auto step = rotation_.advance(now);
    TimePoint next;
    if (!step) {
      ++failures_;
      metrics_.keyset_refresh_failed(config_.name, failures_);
      log::error("cannot generate a key; retrying", {{"keyset", config_.name}, {"error", step.error().message}});
      next = now + kGenerateRetry;
    } else {
      failures_ = 0;
      next = step->next;
      // Keys adopted from the previous run are unchanged at the first step,
      // but their gauges are new in this process: report them once.
      if (step->changed || !reported_) {
        reported_ = true;
        metrics_.keyset_refreshed(config_.name, rotation_.keys().size());
        for (const auto& k : rotation_.keys())
          if (k.key.kid == rotation_.active_kid())
            metrics_.keyset_signing_key_activated(
                config_.name, std::chrono::duration_cast<seconds>(k.activates_at.time_since_epoch()).count());
      }
      if (step->changed) {
        log::info("keyset rotated", {{"keyset", config_.name},
                                     {"keys", static_cast<std::int64_t>(rotation_.keys().size())},
                                     {"signing_kid", rotation_.active_kid()}});
        on_value_(config_, KeysetValue{rotation_.public_jwks(), Secret(std::string(rotation_.signing_key())),
                                       rotation_.keys().size()});
      }
    }
    timer_.at(next, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->advance();
    });
  }

  const Clock& clock_;
  Metrics& metrics_;
  ClockTimer timer_;
  KeyRotation rotation_;
  OnValue on_value_;
  unsigned failures_ = 0;
  bool reported_ = false;
  bool stopped_ = false;
};

}  // namespace

std::shared_ptr<KeysetRunner> make_keyset_runner(asio::io_context& io, KeysetConfig config,
                                                 const Clock& clock, Metrics& metrics,
                                                 std::atomic<int>& fetches_in_flight,
                                                 std::optional<KeysetValue> previous,
                                                 KeysetRunner::OnValue on_value) {
  if (std::holds_alternative<JwksKeysetConfig>(config.settings))
    return std::make_shared<JwksRunner>(io, std::move(config), clock, metrics, fetches_in_flight,
                                        std::move(on_value));
  if (std::holds_alternative<KeyFilesKeysetConfig>(config.settings))
    return std::make_shared<KeyFilesRunner>(std::move(config), metrics, std::move(on_value));
  return std::make_shared<GeneratedRunner>(io, std::move(config), clock, metrics, std::move(previous),
                                           std::move(on_value));
}

Result<KeysetValue> load_keyset_once(const KeysetConfig& config, const Clock& clock,
                                     std::optional<KeysetValue> previous) {
  if (const auto* j = std::get_if<JwksKeysetConfig>(&config.settings)) {
    CurlHttpClient http({.ca_file = j->ca_file});
    auto r = JwksFetcher(*j, http, clock).fetch();
    if (auto* e = std::get_if<JwksFetchError>(&r)) return make_error(e->message);
    auto& ok = std::get<FetchedJwks>(r);
    return KeysetValue{ok.jwks, Secret(), ok.keys};
  }
  if (const auto* f = std::get_if<KeyFilesKeysetConfig>(&config.settings)) {
    auto set = load_key_files(f->directory);
    if (!set) return set.error();
    return KeysetValue{set->jwks, set->signing_key, set->keys};
  }
  KeyRotation rotation(std::get<GeneratedKeysetConfig>(config.settings), generate_jwk);
  adopt_previous(rotation, config.name, previous, clock.now());
  auto step = rotation.advance(clock.now());
  if (!step) return step.error();
  return KeysetValue{rotation.public_jwks(), Secret(std::string(rotation.signing_key())),
                     rotation.keys().size()};
}

}  // namespace tw
