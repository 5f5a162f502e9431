// keyset_runner.cpp -- see keyset_runner.hpp.
#include "tokenwell/agent/keysets/keyset_runner.hpp"

#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/agent/keysets/jwks_keyset.hpp"
#include "tokenwell/agent/keysets/key_files.hpp"
#include "tokenwell/agent/keysets/key_rotation.hpp"
#include "tokenwell/agent/refresh/fetch_cycle.hpp"

namespace tw {
namespace {

using std::chrono::seconds;

// A generated key that cannot be made (out of entropy, a broken provider) is
// tried again this often; the keys already published stay.
constexpr auto kGenerateRetry = std::chrono::seconds(5);

// What every keyset runner has: its config and the entry's identity.
class KeysetRunnerBase : public EntryRunner {
 public:
  KeysetRunnerBase(KeysetConfig config, Metrics& metrics, OnKeysetValue on_value)
      : config_(std::move(config)), metrics_(metrics), on_value_(std::move(on_value)) {}
  const std::string& name() const override { return config_.name; }
  EntryKind kind() const override { return EntryKind::keyset; }
  const std::string& source() const override { return config_.source; }
  const std::string& fingerprint() const override { return config_.fingerprint; }
  RefreshStatus refresh_status() const override { return status_; }
  std::string_view signing_key() const override { return signing_key_.reveal(); }

 protected:
  // Every new value goes out here, and its key is kept for
  // POST /v1/keysets/NAME/sign: the key published with it, whether or not
  // the segment holds it (private_in_segment).
  void publish(const KeysetValue& value) {
    signing_key_ = value.signing_key;
    on_value_(config_, value);
  }
  void succeeded(TimePoint now) {
    status_.last_success = now;
    no_failure();
  }
  void no_failure() {
    status_.consecutive_failures = 0;
    status_.last_error.clear();
  }
  void failed(unsigned consecutive_failures, std::string_view message) {
    status_.consecutive_failures = consecutive_failures;
    status_.last_error = status_error_text(message);
  }
  void next_attempt_at(TimePoint at) {
    status_.next_attempt = at == TimePoint::max() ? std::nullopt : std::optional<TimePoint>(at);
  }

  KeysetConfig config_;
  Metrics& metrics_;
  OnKeysetValue on_value_;
  RefreshStatus status_;
  Secret signing_key_;
};

// ---- jwks ------------------------------------------------------------------

using JwksResult = std::variant<FetchedJwks, JwksFetchError>;

class JwksRunner final : public KeysetRunnerBase {
 public:
  JwksRunner(KeysetConfig config, const KeysetContext& context, OnKeysetValue on_value)
      : KeysetRunnerBase(std::move(config), context.metrics, std::move(on_value)),
        clock_(context.time.clock()),
        settings_(std::get<JwksKeysetConfig>(config_.settings)),
        state_(settings_, context.random),
        cycle_(context.time, context.executor,
               [settings = settings_, http = context.http.create({.ca_file = settings_.ca_file}),
                &clock = clock_] { return JwksFetcher(settings, *http, clock).fetch(); },
               [this](JwksResult r, std::chrono::nanoseconds) { on_result(std::move(r)); }) {
    cycle_.on_begin([this] { state_.fetch_started(clock_.now()); });
  }

  void start() override { schedule(state_.start(clock_.now())); }
  void stop() override { cycle_.stop(); }

  RefetchReply request_refetch() override {
    if (cycle_.in_flight()) return {true, seconds(0)};
    const RefetchReply d = state_.on_demand(clock_.now());
    metrics_.keyset_refresh_requested(config_.name, d.accepted);
    if (!d.accepted) return d;
    log::info("keyset refetch requested", {{"keyset", config_.name}});
    cycle_.fetch_now();
    return {true, seconds(0)};
  }

 private:
  void on_result(JwksResult result) {
    auto step = state_.on_result(std::move(result), clock_.now());
    const bool ok = !state_.last_error();
    if (!ok) {
      const auto& err = *state_.last_error();
      metrics_.keyset_refresh_failed(config_.name, state_.consecutive_failures());
      failed(state_.consecutive_failures(), err.message);
      log::warn("keyset refresh failed; keeping the last good set, retrying",
                {{"keyset", config_.name},
                 {"error", err.message},
                 {"http_status", err.http_status},
                 {"consecutive_failures", state_.consecutive_failures()},
                 {"has_keys", state_.current().has_value()}});
    } else {
      const auto& cur = *state_.current();
      for (const auto& why : cur.skipped)
        log::warn("JWKS key skipped", {{"keyset", config_.name}, {"problem", why}});
      metrics_.keyset_refreshed(config_.name, cur.keys, cur.skipped.size());
      succeeded(clock_.now());
      if (step.publish) publish(KeysetValue{cur.jwks, Secret(), cur.keys});
    }
    schedule(step.next_attempt);
    report(ok);
  }

  void schedule(TimePoint at) {
    next_attempt_at(at);
    cycle_.schedule(at);
  }

  const Clock& clock_;
  JwksKeysetConfig settings_;
  JwksRefreshState state_;
  FetchCycle<JwksResult> cycle_;
};

// ---- key_files -----------------------------------------------------------------

class KeyFilesRunner final : public KeysetRunnerBase {
 public:
  KeyFilesRunner(KeysetConfig config, const KeysetContext& context, OnKeysetValue on_value)
      : KeysetRunnerBase(std::move(config), context.metrics, std::move(on_value)),
        clock_(context.time.clock()),
        directory_(std::get<KeyFilesKeysetConfig>(config_.settings).directory) {}

  void start() override { load(); }
  void stop() override { stopped_ = true; }
  RefetchReply request_refetch() override {
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
      failed(failures_, set.error().message);
      log::warn("key files unusable; keeping the last good set",
                {{"keyset", config_.name}, {"error", set.error().message}});
      report(false);
      return;
    }
    failures_ = 0;
    succeeded(clock_.now());
    for (const auto& why : set->skipped)
      log::warn("key file skipped", {{"keyset", config_.name}, {"problem", why}});
    metrics_.keyset_refreshed(config_.name, set->keys, set->skipped.size());
    if (set->jwks != last_jwks_ || set->signing_kid != last_kid_) {
      last_jwks_ = set->jwks;
      last_kid_ = set->signing_kid;
      log::info("key files loaded", {{"keyset", config_.name},
                                     {"keys", static_cast<std::int64_t>(set->keys)},
                                     {"signing_kid", set->signing_kid}});
      publish(KeysetValue{set->jwks, set->signing_key, set->keys});
    }
    report(true);
  }

  const Clock& clock_;
  std::filesystem::path directory_;
  std::string last_jwks_;
  std::string last_kid_;
  unsigned failures_ = 0;
  bool stopped_ = false;
};

// ---- generated -------------------------------------------------------------------

class GeneratedRunner final : public KeysetRunnerBase {
 public:
  GeneratedRunner(KeysetConfig config, const KeysetContext& context, std::optional<KeysetValue> previous,
                  OnKeysetValue on_value)
      : KeysetRunnerBase(std::move(config), context.metrics, std::move(on_value)),
        clock_(context.time.clock()),
        timer_(context.time.create_timer([this] { advance(); })),
        rotation_(std::get<GeneratedKeysetConfig>(config_.settings), generate_jwk) {
    adopt(previous);
  }

  void start() override {
    metrics_.keyset_rotation_period(config_.name, std::get<GeneratedKeysetConfig>(config_.settings).rotate_every);
    advance();
  }
  void stop() override {
    stopped_ = true;
    timer_->cancel();
  }
  RefetchReply request_refetch() override {
    // Its own keys: nothing to fetch, the JWKS is always complete.
    metrics_.keyset_refresh_requested(config_.name, true);
    return {true, seconds(0)};
  }

 private:
  void adopt(const std::optional<KeysetValue>& previous) {
    if (!previous || previous->jwks.empty()) return;
    if (previous->signing_key.empty()) {
      // The private keys died with the previous process (they were not in
      // the segment): a new key signs, and the old public keys stay
      // verify-only for `retain`, so the tokens they signed still verify.
      if (auto r = rotation_.adopt_public(previous->jwks, clock_.now()); !r) {
        log::warn("cannot keep the previous public keys; starting a new key set",
                  {{"keyset", config_.name}, {"error", r.error().message}});
        return;
      }
      log::info("kept the previous public keys as verify-only; a new key signs",
                {{"keyset", config_.name}, {"keys", static_cast<std::int64_t>(rotation_.keys().size())}});
      return;
    }
    if (auto r = rotation_.adopt(previous->jwks, previous->signing_key.reveal(), clock_.now()); !r) {
      log::warn("cannot adopt the previous keys; starting a new key set",
                {{"keyset", config_.name}, {"error", r.error().message}});
      return;
    }
    log::info("adopted the previous keys", {{"keyset", config_.name},
                                            {"keys", static_cast<std::int64_t>(rotation_.keys().size())},
                                            {"signing_kid", rotation_.active_kid()}});
  }

  void advance() {
    if (stopped_) return;
    const TimePoint now = clock_.now();
    auto step = rotation_.advance(now);
    if (!step) {
      ++failures_;
      metrics_.keyset_refresh_failed(config_.name, failures_);
      log::error("cannot generate a key; retrying", {{"keyset", config_.name}, {"error", step.error().message}});
      failed(failures_, step.error().message);
      next_attempt_at(now + kGenerateRetry);
      timer_->arm(kGenerateRetry);
      report(false);
      return;
    }
    failures_ = 0;
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
    // An adopted set unchanged at the first step keeps the previous agent's
    // publication time as its last refresh (the segment has it).
    if (step->changed) succeeded(now);
    else no_failure();
    if (step->changed) {
      log::info("keyset rotated", {{"keyset", config_.name},
                                   {"keys", static_cast<std::int64_t>(rotation_.keys().size())},
                                   {"signing_kid", rotation_.active_kid()}});
      publish(KeysetValue{rotation_.public_jwks(), Secret(std::string(rotation_.signing_key())),
                          rotation_.keys().size()});
    }
    next_attempt_at(step->next);
    arm_at(*timer_, clock_, step->next);
    report(true);
  }

  const Clock& clock_;
  std::unique_ptr<Timer> timer_;
  KeyRotation rotation_;
  unsigned failures_ = 0;
  bool reported_ = false;
  bool stopped_ = false;
};

}  // namespace

std::shared_ptr<EntryRunner> make_keyset_runner(KeysetConfig config, KeysetContext context,
                                                std::optional<KeysetValue> previous, OnKeysetValue on_value) {
  if (std::holds_alternative<JwksKeysetConfig>(config.settings))
    return std::make_shared<JwksRunner>(std::move(config), context, std::move(on_value));
  if (std::holds_alternative<KeyFilesKeysetConfig>(config.settings))
    return std::make_shared<KeyFilesRunner>(std::move(config), context, std::move(on_value));
  return std::make_shared<GeneratedRunner>(std::move(config), context, std::move(previous), std::move(on_value));
}

}  // namespace tw
