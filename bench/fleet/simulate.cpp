// simulate.cpp -- see fleet.hpp. The event loop, the model IdP, and the token
// holders of each policy: tokenwell's is tw::RefreshState itself; the client
// libraries' are written here from their source (docs/fleet.md cites it).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <stdexcept>

#include "event_queue.hpp"
#include "fleet.hpp"
#include "tokenwell/agent/refresh/refresh_state.hpp"

namespace tw::fleet {

bool IdpModel::down(Ms t) const {
  return std::any_of(outages.begin(), outages.end(), [t](const Window& w) { return w.contains(t); });
}

bool IdpModel::constrained(Ms t) const { return down(t) || (throttle && throttle->contains(t)); }

std::pair<double, double> peak_and_mean(const Result& r, Ms bin);

namespace {

// splitmix64: small state per token holder, good enough for jitter draws.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
};

std::uint64_t seed_of(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  Rng r{seed ^ (stream * 0x2545f4914f6cdd1dULL) ^ (index * 0x9e3779b97f4a7c15ULL)};
  r.next();
  return r.next();
}

// What tw::RefreshState draws its jitter from, seeded per pod.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(std::uint64_t seed) : rng_{seed} {}
  void fill(std::span<unsigned char> out) override {
    for (std::size_t i = 0; i < out.size(); i += 8) {
      const std::uint64_t v = rng_.next();
      std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, out.size() - i));
    }
  }

 private:
  Rng rng_;
};

enum class TokenKind : std::uint8_t { entra, managed_identity, short_lived };

enum class Outcome : std::uint8_t {
  ok,
  throttled,       // 429 + Retry-After from the IdP
  down,            // refused, or timed out: a network error
  local_throttle,  // the client library's own Retry-After cache said no (no request)
};

struct Answer {
  Outcome outcome = Outcome::ok;
  Ms at = 0;                   // when the client has the answer
  std::int64_t issued_s = 0, expires_s = 0;
  std::int32_t refresh_in_s = 0;  // 0: none
  std::int32_t retry_after_s = 0;
};

// A token holder: tokenwell's agent, or one application process's token
// manager. `mode` and `attempt` belong to the library models.
enum class Mode : std::uint8_t { connecting, scheduled, on_demand };

struct Client {
  Rng rng;
  Answer pending;
  Ms valid_until = -1;    // true time; -1: never had a token
  Ms throttled_until = 0;  // MSAL's Retry-After cache (node, python)
  Ms skew = 0;             // the pod's, copied: a client is all one event reads
  std::uint32_t pod = 0;
  std::uint32_t token_gen = 0, timer_gen = 0;
  std::uint16_t attempt = 0, reconnects = 0;
  Mode mode = Mode::connecting;
  TokenKind kind = TokenKind::entra;  // the pod's
  bool valid = false, expiry_armed = false, streaming_started = false;
};

struct Pod {
  Ms start = 0, skew = 0;
  Ms first_valid = -1, recovering_since = -1;
  std::uint16_t invalid = 0;
  TokenKind kind = TokenKind::entra;
  bool started = false;
};

// tokenwell's agent of one pod: the real refresh decisions.
struct Agent {
  Agent(const RefreshSettings& s, std::uint64_t seed) : random(seed), state(s, random) {}
  SeededRandom random;
  RefreshState state;
};

enum Kind : std::uint32_t { kStart = 0, kAttempt = 1, kExpiry = 2 };
Event event(Ms t, std::uint32_t who, Kind kind, std::uint32_t gen = 0) {
  return Event{t, who, kind | (gen << 2)};
}

TimePoint wall(Ms t) { return TimePoint(std::chrono::milliseconds(1'700'000'000'000LL + t)); }
Ms sim_time(TimePoint p) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(p.time_since_epoch()).count() -
         1'700'000'000'000LL;
}
constexpr std::int64_t kEpochS = 1'700'000'000;

class Simulation {
 public:
  Simulation(const Scenario& s, const Policy& p) : s_(s), p_(p), queue_(s.duration) {
    const auto seconds = static_cast<std::size_t>(s.duration / kSecond + 1);
    for (auto* v : {&r_.series.requests, &r_.series.ok, &r_.series.throttled, &r_.series.failed,
                    &r_.series.pods_without})
      v->assign(seconds, 0);
    without_delta_.assign(seconds, 0);
    idp_rng_ = Rng{seed_of(s.seed, 1, 0)};
    make_latencies();
    bucket_ = capacity(0);
    pods_.resize(s.pods);
    clients_.resize(static_cast<std::size_t>(s.pods) * p.processes_per_pod);
    const double mix_total = s.lifetimes.entra + s.lifetimes.managed_identity + s.lifetimes.short_lived;
    for (std::uint32_t i = 0; i < s.pods; ++i) {
      // Pod-level draws come from the pod's own stream: every policy sees the
      // same pods starting at the same times with the same clocks.
      Rng r{seed_of(s.seed, 2, i)};
      Pod& pod = pods_[i];
      pod.start = s.starts.from + static_cast<Ms>(r.unit() * static_cast<double>(s.starts.length()));
      pod.skew = static_cast<Ms>(r.uniform(-1, 1) * static_cast<double>(s.clock_skew));
      const double k = r.unit() * mix_total;
      pod.kind = k < s.lifetimes.entra ? TokenKind::entra
                 : k < s.lifetimes.entra + s.lifetimes.managed_identity ? TokenKind::managed_identity
                                                                         : TokenKind::short_lived;
      queue_.push(event(pod.start, i, kStart));
    }
    for (std::uint32_t c = 0; c < clients_.size(); ++c) {
      clients_[c].rng = Rng{seed_of(s.seed, 3, c)};
      clients_[c].pod = c / p.processes_per_pod;
      clients_[c].skew = pods_[clients_[c].pod].skew;
      clients_[c].kind = pods_[clients_[c].pod].kind;
    }
    if (p.kind == PolicyKind::tokenwell)
      for (std::uint32_t i = 0; i < s.pods; ++i)
        agents_.emplace_back(p.tokenwell, seed_of(s.seed, 4, i));
    outage_ends_.reserve(s.idp.outages.size());
    for (const auto& w : s.idp.outages) outage_ends_.push_back(w.until);
    std::sort(outage_ends_.begin(), outage_ends_.end());
  }

  Result run() {
    for (Event e; queue_.pop(e);) {
      // A coming event's client is almost always a cache miss: fetch it
      // while this one and the few before it are handled.
      if (const Event* next = queue_.ahead(8); next && next->who < clients_.size())
        __builtin_prefetch(&clients_[next->who]);
      while (next_outage_end_ < outage_ends_.size() && outage_ends_[next_outage_end_] <= e.t)
        outage_ended(outage_ends_[next_outage_end_++]);
      switch (static_cast<Kind>(e.tag & 3)) {
        case kStart: start_pod(e.who, e.t); break;
        case kAttempt:
          if ((e.tag >> 2) == (clients_[e.who].timer_gen & 0x3fffffff)) attempt(e.who, e.t);
          break;
        case kExpiry: expire(e.who, e.t, e.tag >> 2); break;
      }
    }
    return finish();
  }

 private:
  // ---------------------------------------------------------------------------
  // The model IdP

  double capacity(Ms t) const {
    if (s_.idp.throttle && s_.idp.throttle->contains(t)) return s_.idp.throttled_capacity_per_s;
    return s_.idp.capacity_per_s;
  }

  // 4,096 draws of the latency distribution, made once; a request picks one.
  void make_latencies() {
    for (auto& l : latencies_) {
      const double u1 = std::max(idp_rng_.unit(), 1e-12), u2 = idp_rng_.unit();
      const double normal = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);  // Box-Muller
      l = static_cast<Ms>(s_.idp.latency_median_ms * std::exp(s_.idp.latency_sigma * normal));
    }
  }

  Answer request(const Client& c, Ms t, Ms timeout) {
    const auto sec = static_cast<std::size_t>(t / kSecond);
    ++r_.series.requests[sec];
    ++r_.requests;
    Answer a;
    if (s_.idp.down(t)) {
      ++r_.series.failed[sec];
      ++r_.failed;
      a.outcome = Outcome::down;
      a.at = t + (s_.idp.outage_hangs ? timeout : 1);
      return a;
    }
    const Ms latency = std::clamp<Ms>(latencies_[idp_rng_.next() >> 52], 10, timeout);
    a.at = t + latency;
    if (const double rate = capacity(t); rate > 0) {
      // Token bucket, one second of burst. A rejected request is told to come
      // back when the requests rejected before it would have been served at
      // this rate: a Retry-After that grows with the backlog, as a rate
      // limiter that knows its queue answers.
      bucket_ = std::min(rate, bucket_ + rate * static_cast<double>(t - bucket_at_) / 1000.0);
      bucket_at_ = t;
      if (bucket_ < 1) {
        backlog_until_ = std::max(backlog_until_, t) + static_cast<Ms>(1000.0 / rate);
        a.outcome = Outcome::throttled;
        a.retry_after_s = static_cast<std::int32_t>(
            std::max<Ms>(1, (backlog_until_ - t + kSecond - 1) / kSecond));
        ++r_.series.throttled[sec];
        ++r_.throttled;
        return a;
      }
      bucket_ -= 1;
    }
    ++r_.series.ok[sec];
    a.outcome = Outcome::ok;
    a.issued_s = kEpochS + t / kSecond;
    switch (c.kind) {
      case TokenKind::entra:  // a random 60-90 minutes
        a.expires_s = a.issued_s + 3600 + static_cast<std::int64_t>(idp_rng_.unit() * 1801);
        break;
      case TokenKind::managed_identity:
        a.expires_s = a.issued_s + 86400;
        a.refresh_in_s = 43200;
        break;
      case TokenKind::short_lived: a.expires_s = a.issued_s + 600; break;
    }
    return a;
  }

  // ---------------------------------------------------------------------------
  // Bookkeeping shared by every policy

  void schedule(std::uint32_t id, Ms at) {
    Client& c = clients_[id];
    ++c.timer_gen;
    arm_expiry(id, at);
    if (chaining_ && at < s_.duration) {
      chained_at_ = at;  // attempt() goes on with it
      return;
    }
    queue_.push(event(at, id, kAttempt, c.timer_gen & 0x3fffffff));
  }

  // An expiry event only when the token may run out before the holder acts.
  void arm_expiry(std::uint32_t id, Ms next_action) {
    Client& c = clients_[id];
    if (c.valid && !c.expiry_armed && next_action >= c.valid_until) {
      c.expiry_armed = true;
      queue_.push(event(c.valid_until, id, kExpiry, c.token_gen & 0x3fffffff));
    }
  }

  // Changes may come slightly out of time order (an answer is handled when
  // its request is sent, at the answer's time): kept as per-second deltas,
  // summed at the end.
  void set_pods_without(Ms t, int delta) {
    without_delta_[static_cast<std::size_t>(std::min(t, s_.duration - 1) / kSecond)] += delta;
    r_.pod_seconds_without += static_cast<double>(s_.duration - t) / 1000.0 * delta;
  }

  void got_token(std::uint32_t id, Ms t, std::int64_t expires_s) {
    Client& c = clients_[id];
    if (c.valid && c.valid_until <= t) expire(id, c.valid_until, c.token_gen & 0x3fffffff);
    ++c.token_gen;
    c.expiry_armed = false;
    c.valid_until = (expires_s - kEpochS) * kSecond;
    if (c.valid) return;
    c.valid = true;
    Pod& pod = pods_[c.pod];
    if (--pod.invalid > 0) return;
    set_pods_without(t, -1);
    if (pod.first_valid < 0) {
      pod.first_valid = t;
      last_first_valid_ = std::max(last_first_valid_, t);
    }
    if (pod.recovering_since >= 0) {
      recoveries_.push_back(static_cast<double>(t - pod.recovering_since) / 1000.0);
      pod.recovering_since = -1;
    }
  }

  void expire(std::uint32_t id, Ms t, std::uint32_t gen) {
    Client& c = clients_[id];
    if (gen != (c.token_gen & 0x3fffffff) || !c.valid) return;
    c.valid = false;
    Pod& pod = pods_[c.pod];
    if (pod.invalid++ > 0) return;
    set_pods_without(t, +1);
    if (!s_.idp.constrained(t)) ++r_.expired_while_up;
  }

  void start_pod(std::uint32_t i, Ms t) {
    Pod& pod = pods_[i];
    pod.started = true;
    pod.invalid = static_cast<std::uint16_t>(p_.processes_per_pod);
    set_pods_without(t, +1);
    for (std::uint32_t k = 0; k < p_.processes_per_pod; ++k) {
      const std::uint32_t id = i * p_.processes_per_pod + k;
      // Application processes come up within a second or two of each other.
      const Ms at = p_.kind == PolicyKind::tokenwell
                        ? sim_time(agents_[i].state.start(wall(t + pod.skew))) - pod.skew
                        : t + static_cast<Ms>(clients_[id].rng.unit() * (p_.processes_per_pod > 1 ? 2000 : 0));
      schedule(id, at);
    }
  }

  void outage_ended(Ms end) {
    for (auto& pod : pods_) {
      if (pod.started && pod.invalid > 0 && pod.recovering_since < 0) {
        pod.recovering_since = end;
        ++r_.recovering;
      }
    }
  }

  Ms timeout() const {
    switch (p_.kind) {
      case PolicyKind::tokenwell: return p_.tokenwell.timeout.count();
      case PolicyKind::go_redis: return 30 * kSecond;  // manager.DefaultRequestTimeout
      default: return 10 * kSecond;
    }
  }

  bool msal_throttle_cache() const {
    return p_.kind == PolicyKind::node_redis || p_.kind == PolicyKind::redis_py;
  }

  // A failure that touches nothing shared (a refused connection, the
  // client's own Retry-After cache) is answered here at once, and so are the
  // retries that follow it while they fail the same way: the anchors' retry
  // storms would otherwise be hundreds of millions of queued events at
  // 100,000 pods. Nothing else can change in between, so the result is the
  // same as going through the queue.
  void attempt(std::uint32_t id, Ms t) {
    Client& c = clients_[id];
    for (bool first = true;; first = false) {
      const bool local = msal_throttle_cache() && t < c.throttled_until;
      const bool isolated = local || (s_.idp.down(t) && !s_.idp.outage_hangs);
      if (!first && !isolated) {  // back to the queue, in time order with the others
        queue_.push(event(t, id, kAttempt, c.timer_gen & 0x3fffffff));
        return;
      }
      if (local) {
        c.pending = Answer{Outcome::local_throttle, t, 0, 0, 0, 0};
      } else {
        c.pending = request(c, t, timeout());
        if (c.pending.outcome == Outcome::throttled && msal_throttle_cache())
          c.throttled_until = t + c.pending.retry_after_s * kSecond;
      }
      if (!isolated || !chainable(c.pending.at)) break;
      chaining_ = true;
      chained_at_ = -1;
      respond(id, c.pending.at);
      chaining_ = false;
      if (chained_at_ < 0) return;
      t = chained_at_;
      if (!chainable(t)) {
        queue_.push(event(t, id, kAttempt, c.timer_gen & 0x3fffffff));
        return;
      }
    }
    // Nothing the client does with its answer touches another client before
    // the answer's time, so it is handled now.
    respond(id, c.pending.at);
  }

  // Until the next outage ends (when recoveries are counted) and the run ends.
  bool chainable(Ms t) const {
    const Ms limit = next_outage_end_ < outage_ends_.size() ? outage_ends_[next_outage_end_] : s_.duration;
    return t < std::min(limit, s_.duration);
  }

  void respond(std::uint32_t id, Ms t) {
    switch (p_.kind) {
      case PolicyKind::tokenwell: return tokenwell(id, t);
      case PolicyKind::node_redis: return node_redis(id, t);
      case PolicyKind::redis_py: return redis_py(id, t);
      case PolicyKind::go_redis: return go_redis(id, t);
      case PolicyKind::spire: return spire(id, t);
    }
  }

  // ---------------------------------------------------------------------------
  // tokenwell: one agent per pod, its RefreshState decides everything. The
  // pod's clock is off by `skew`; the IdP's timestamps are true time.

  void tokenwell(std::uint32_t id, Ms t) {
    Client& c = clients_[id];
    const Answer& a = c.pending;
    const Ms skew = c.skew;
    FetchResult<FetchedCredential> result = FetchError{};
    if (a.outcome == Outcome::ok) {
      FetchedCredential cred;
      cred.token = Secret("t");
      cred.issued_at = a.issued_s;
      cred.expires_at = a.expires_s;
      if (a.refresh_in_s) cred.refresh_in = a.refresh_in_s;
      result = std::move(cred);
    } else if (a.outcome == Outcome::throttled) {
      result = FetchError{"HTTP 429", std::chrono::seconds(a.retry_after_s), 429};
    } else {
      result = FetchError{s_.idp.outage_hangs ? "timed out" : "refused", std::nullopt, 0};
    }
    RefreshState& state = agents_[c.pod].state;
    const auto step = state.on_result(std::move(result), wall(t + skew));
    if (step.publish) got_token(id, t, state.current()->expires_at);
    if (step.next_attempt != TimePoint::max()) schedule(id, sim_time(step.next_attempt) - skew);
  }

  // ---------------------------------------------------------------------------
  // The Redis client libraries: one token manager per application process.
  // When a manager has given up, the process asks again only when its
  // connection needs a token: when the token expired (Redis closes the
  // connection) and on every reconnect after that. Reconnects follow
  // node-redis's default strategy, min(2^n * 50 ms, 2 s) + 0-200 ms, the
  // model for all three (redis-py and go-redis reconnect per command).

  Ms reconnect_delay(Client& c) {
    const Ms d = std::min<Ms>(Ms{50} << std::min<int>(c.reconnects, 10), 2000) +
                 static_cast<Ms>(c.rng.unit() * 200);
    ++c.reconnects;
    return d;
  }

  // The manager is not running: next ask at the next reconnect, or when the
  // held token expires.
  void ask_on_demand(std::uint32_t id, Ms t) {
    Client& c = clients_[id];
    if (c.valid && c.valid_until > t) {
      c.reconnects = 0;
      schedule(id, c.valid_until + reconnect_delay(c));
    } else {
      schedule(id, t + reconnect_delay(c));
    }
  }

  // Refresh at `ratio` of the token's time to live as received.
  void schedule_ratio(std::uint32_t id, Ms t, double ratio) {
    Client& c = clients_[id];
    schedule(id, t + static_cast<Ms>(ratio * static_cast<double>(c.valid_until - t)));
  }

  // @redis/entraid DEFAULT_TOKEN_MANAGER_CONFIG: refresh at 0.7 of the TTL;
  // network errors retried 10 times, 100 ms doubling (cap 100 s) +-0.05 %;
  // any other error, or the 10th failure, stops the manager. node-redis
  // restarts it on the next reconnect (subscribe requests a token first).
  void node_redis(std::uint32_t id, Ms t) {
    Client& c = clients_[id];
    const Answer& a = c.pending;
    if (a.outcome == Outcome::ok) {
      got_token(id, t, a.expires_s);
      c.mode = Mode::scheduled;
      c.attempt = 0;
      c.reconnects = 0;
      return schedule_ratio(id, t, 0.7);
    }
    if (c.mode == Mode::scheduled && a.outcome == Outcome::down && c.attempt < 10) {
      ++c.attempt;
      double delay = std::min(100.0 * std::ldexp(1.0, c.attempt - 1), 100000.0);
      delay += delay * 0.001 * c.rng.uniform(-0.5, 0.5);
      return schedule(id, t + static_cast<Ms>(delay));
    }
    c.mode = Mode::on_demand;
    c.attempt = 0;
    ask_on_demand(id, t);
  }

  // redis-entraid defaults: refresh at 0.7; redis-py's TokenManager retries a
  // failed request 3 times, 3 ms apart, and its retry counter is reset only
  // by a success; a failed renewal ends the background renewal for good
  // (get_credentials does not restart it), so the process then asks only
  // when its connection needs a token.
  void redis_py(std::uint32_t id, Ms t) {
    Client& c = clients_[id];
    const Answer& a = c.pending;
    if (a.outcome == Outcome::ok) {
      got_token(id, t, a.expires_s);
      c.attempt = 0;
      c.reconnects = 0;
      if (c.mode == Mode::on_demand) return ask_on_demand(id, t);
      c.mode = Mode::scheduled;
      c.streaming_started = true;
      return schedule_ratio(id, t, 0.7);
    }
    if (c.attempt < 3) {
      ++c.attempt;
      return schedule(id, t + 3);
    }
    if (c.streaming_started) c.mode = Mode::on_demand;
    ask_on_demand(id, t);
  }

  // go-redis-entraid defaults: refresh at 0.7; 3 attempts, waiting 2 s then
  // 4 s, for timeouts only (a refused connection is not a temporary net
  // error); then the manager's loop returns, and GetToken is called only by
  // new connections.
  void go_redis(std::uint32_t id, Ms t) {
    Client& c = clients_[id];
    const Answer& a = c.pending;
    if (a.outcome == Outcome::ok) {
      got_token(id, t, a.expires_s);
      c.attempt = 0;
      c.reconnects = 0;
      if (c.mode == Mode::on_demand) return ask_on_demand(id, t);
      c.mode = Mode::scheduled;
      return schedule_ratio(id, t, 0.7);
    }
    const bool retryable = a.outcome == Outcome::down && s_.idp.outage_hangs;
    if (c.mode == Mode::scheduled && retryable && c.attempt < 2) {
      ++c.attempt;
      return schedule(id, t + (Ms{1000} << c.attempt));
    }
    if (c.mode == Mode::scheduled) c.mode = Mode::on_demand;
    ask_on_demand(id, t);
  }

  // SPIRE's agent rotating its SVID: every ~5 s it checks whether the time
  // to live is at most half the lifetime +-10 % (drawn again at each check);
  // a failed rotation backs off 5 s * 1.5^n +-10 %, up to 120 s, for ever.
  void spire(std::uint32_t id, Ms t) {
    Client& c = clients_[id];
    const Answer& a = c.pending;
    const Ms skew = c.skew;
    if (a.outcome == Outcome::ok) {
      got_token(id, t, a.expires_s);
      c.attempt = 0;
      const Ms lifetime = (a.expires_s - a.issued_s) * kSecond;
      const Ms expires = (a.expires_s - kEpochS) * kSecond;  // true time
      // Checks before the window opens (ttl > 0.55 of the lifetime) never
      // rotate: start at the first check inside it.
      Ms check = std::max(t, expires - skew - lifetime * 55 / 100) +
                 static_cast<Ms>(c.rng.unit() * 5000);
      while (expires - (check + skew) > static_cast<Ms>(lifetime / 2 * c.rng.uniform(0.9, 1.1)))
        check += static_cast<Ms>(c.rng.uniform(4500, 5500));
      return schedule(id, check);
    }
    ++c.attempt;
    const double interval = std::min(5000.0 * std::pow(1.5, c.attempt), 120000.0);
    schedule(id, t + static_cast<Ms>(interval * c.rng.uniform(0.9, 1.1)));
  }

  // ---------------------------------------------------------------------------

  Result finish() {
    Result& r = r_;
    for (std::size_t sec = 0, n = 0; sec < without_delta_.size(); ++sec) {
      n = static_cast<std::size_t>(static_cast<std::int64_t>(n) + without_delta_[sec]);
      r.series.pods_without[sec] = static_cast<std::uint32_t>(n);
      r.max_pods_without = std::max<unsigned>(r.max_pods_without, static_cast<unsigned>(n));
    }
    r.scenario = s_.name;
    r.policy = p_.name;
    r.pods = s_.pods;
    r.processes_per_pod = p_.processes_per_pod;
    r.requests_per_pod_hour =
        static_cast<double>(r.requests) / s_.pods / (static_cast<double>(s_.duration) / kHour);

    // Requests per minute from the first whole minute after every pod had
    // its first token.
    const Ms from = last_first_valid_ < 0 ? 0 : (last_first_valid_ / kMinute + 1) * kMinute;
    r.measured_from_s = static_cast<double>(from) / 1000.0;
    const auto [peak, mean] = peak_and_mean(r, kMinute);
    r.peak_per_min = peak;
    r.mean_per_min = mean;
    r.peak_over_mean = mean > 0 ? peak / mean : 0;

    for (auto& pod : pods_)
      if (pod.recovering_since >= 0) ++r.unrecovered;
    std::sort(recoveries_.begin(), recoveries_.end());
    auto quantile = [&](double q) {
      if (recoveries_.empty()) return 0.0;
      const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(recoveries_.size())));
      return recoveries_[std::min(recoveries_.size() - 1, i == 0 ? 0 : i - 1)];
    };
    r.recovery_p50_s = quantile(0.50);
    r.recovery_p99_s = quantile(0.99);
    r.recovery_max_s = recoveries_.empty() ? 0 : recoveries_.back();

    auto requests_in = [&](const Window& w) {
      std::uint64_t n = 0;
      for (Ms sec = w.from / kSecond; sec < std::min(w.until, s_.duration) / kSecond; ++sec)
        n += r.series.requests[sec];
      return n;
    };
    // Per minute that a pod existed during an outage (pods still starting
    // when it began count from their start).
    double pod_minutes = 0;
    std::uint64_t outage_requests = 0;
    for (const auto& w : s_.idp.outages) {
      outage_requests += requests_in(w);
      for (const auto& pod : pods_)
        pod_minutes += static_cast<double>(std::max<Ms>(0, w.until - std::max(w.from, pod.start))) / kMinute;
    }
    if (pod_minutes > 0) r.outage_requests_per_pod_min = static_cast<double>(outage_requests) / pod_minutes;
    if (s_.idp.throttle && s_.idp.throttled_capacity_per_s > 0)
      r.throttle_load_ratio = static_cast<double>(requests_in(*s_.idp.throttle)) /
                              (s_.idp.throttled_capacity_per_s *
                               static_cast<double>(s_.idp.throttle->length()) / 1000.0);
    return std::move(r_);
  }

  const Scenario& s_;
  const Policy& p_;
  EventQueue queue_;
  Result r_;
  Rng idp_rng_{0};
  std::array<Ms, 4096> latencies_{};
  double bucket_ = 0;
  Ms bucket_at_ = 0, backlog_until_ = 0;
  std::vector<Pod> pods_;
  std::vector<Client> clients_;
  std::deque<Agent> agents_;
  std::vector<Ms> outage_ends_;
  std::size_t next_outage_end_ = 0;
  std::vector<double> recoveries_;
  Ms last_first_valid_ = -1;
  std::vector<std::int32_t> without_delta_;
  bool chaining_ = false;
  Ms chained_at_ = -1;
};

}  // namespace

std::pair<double, double> peak_and_mean(const Result& r, Ms bin) {
  const auto& requests = r.series.requests;
  const Ms end = static_cast<Ms>(requests.size()) * kSecond;
  std::uint64_t total = 0, peak = 0, bins = 0;
  for (Ms b = static_cast<Ms>(r.measured_from_s * 1000); b + bin <= end; b += bin, ++bins) {
    std::uint64_t n = 0;
    for (Ms sec = b / kSecond; sec < (b + bin) / kSecond; ++sec) n += requests[static_cast<std::size_t>(sec)];
    total += n;
    peak = std::max(peak, n);
  }
  if (!bins || !total) return {0, 0};
  return {static_cast<double>(peak), static_cast<double>(total) / static_cast<double>(bins)};
}

double peak_over_mean(const Result& r, Ms bin) {
  const auto [peak, mean] = peak_and_mean(r, bin);
  return mean > 0 ? peak / mean : 0;
}

Result simulate(const Scenario& scenario, const Policy& policy) {
  if (scenario.pods == 0 || policy.processes_per_pod == 0 || policy.processes_per_pod > 1000)
    throw std::invalid_argument("a fleet needs pods, and 1 to 1000 processes per pod");
  return Simulation(scenario, policy).run();
}

}  // namespace tw::fleet
