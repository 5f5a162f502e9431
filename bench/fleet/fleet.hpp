// fleet.hpp -- a discrete-event simulator of a fleet of pods refreshing
// tokens from one identity provider: tokenwell's real refresh decisions
// (tw::RefreshState, one per pod) side by side with the client libraries'
// policies (one token manager per application process), against a model IdP
// with latency, a capacity, outages and Entra-like token lifetimes.
//
//   Scenario s = preset("outage-5m", 10'000);
//   Result r = simulate(s, policy(PolicyKind::tokenwell));
//   std::cout << r.recovery_p99_s << "\n";
//
// Simulated time only (milliseconds from the run's start), seeded: the same
// scenario and seed give the same result. Thread-compatible: simulate() owns
// all its state, so runs may go on different threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenwell/agent/refresh/refresh_policy.hpp"

namespace tw::fleet {

using Ms = std::int64_t;  // simulated milliseconds since the run started
constexpr Ms kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute;

struct Window {
  Ms from = 0, until = 0;
  bool contains(Ms t) const { return t >= from && t < until; }
  Ms length() const { return until - from; }
};

// The identity provider: every request is answered after a log-normal
// latency, unless the IdP is down (refused at once, or no answer until the
// client's timeout) or over capacity (429 with a Retry-After).
struct IdpModel {
  double capacity_per_s = 0;       // token bucket rate (burst: one second's worth); 0: no limit
  std::optional<Window> throttle;  // capacity_per_s is throttled_capacity_per_s in this window
  double throttled_capacity_per_s = 0;
  std::vector<Window> outages;
  bool outage_hangs = false;       // false: connection refused; true: no answer until timeout
  double latency_median_ms = 150, latency_sigma = 0.5;
  bool down(Ms t) const;
  bool constrained(Ms t) const;    // down or throttled: "up with capacity" is the opposite
};

// Which tokens a pod gets. Entra's default access token lives a random 60-90
// minutes; managed identity tokens 24 h with refresh_in = 12 h; "short" is
// Entra's shortest configurable lifetime, 10 minutes. A pod keeps one kind.
struct LifetimeMix {
  double entra = 1, managed_identity = 0, short_lived = 0;
};

struct Scenario {
  std::string name;
  std::string description;
  unsigned pods = 10'000;
  Ms duration = 6 * kHour;
  Window starts{0, kMinute};   // pods start uniformly within this window
  Ms clock_skew = 0;           // each pod's clock is off by uniform ±clock_skew
  LifetimeMix lifetimes;
  IdpModel idp;
  std::uint64_t seed = 1;
  // Where the peak/mean of requests per minute is measured: from the first
  // whole minute after every pod had its first token, to the end.
};

// The presets of docs/fleet.md: rollout, steady, outage-5m, outage-30m,
// throttle, clock-skew, mixed-lifetimes. Throws std::invalid_argument on an
// unknown name.
Scenario preset(const std::string& name, unsigned pods);
std::vector<std::string> preset_names();

enum class PolicyKind { tokenwell, redis_py, node_redis, go_redis, spire };

struct Policy {
  PolicyKind kind = PolicyKind::tokenwell;
  std::string name;
  unsigned processes_per_pod = 1;  // token holders per pod (one agent, or one per app process)
  RefreshSettings tokenwell;       // for PolicyKind::tokenwell
};

// A policy with its documented defaults (docs/fleet.md cites the sources);
// the client libraries get `processes` token managers per pod.
Policy policy(PolicyKind kind, unsigned processes = 8);
PolicyKind policy_kind(const std::string& name);  // "tokenwell", "redis-py", ...; throws
std::vector<PolicyKind> all_policies();

// Per second of simulated time.
struct Series {
  std::vector<std::uint32_t> requests;        // every attempt that reached the IdP
  std::vector<std::uint32_t> ok;              // answered with a token
  std::vector<std::uint32_t> throttled;       // answered 429
  std::vector<std::uint32_t> failed;          // refused or timed out (IdP down)
  std::vector<std::uint32_t> pods_without;    // pods without a valid token at the end of the second
};

struct Result {
  std::string scenario, policy;
  unsigned pods = 0, processes_per_pod = 1;
  Series series;
  std::uint64_t requests = 0, throttled = 0, failed = 0;
  double requests_per_pod_hour = 0;
  // Requests per minute, from the first whole minute after every pod had its
  // first token: the peak minute over the mean minute.
  double peak_over_mean = 0, peak_per_min = 0, mean_per_min = 0;
  double measured_from_s = 0;
  // Tokens that expired, unreplaced, while the IdP was up and had capacity
  // (pod-level: the pod went from valid to not valid).
  std::uint64_t expired_while_up = 0;
  unsigned max_pods_without = 0;
  double pod_seconds_without = 0;
  // Pods without a valid token when an outage ended, and how long after its
  // end each got one (seconds); unrecovered: still without at the run's end.
  std::uint64_t recovering = 0, unrecovered = 0;
  double recovery_p50_s = 0, recovery_p99_s = 0, recovery_max_s = 0;
  // IdP requests during the outages, per pod and minute it existed in them.
  double outage_requests_per_pod_min = 0;
  // Requests during the throttle window over capacity x duration.
  double throttle_load_ratio = 0;
};

Result simulate(const Scenario& scenario, const Policy& policy);

// The peak over the mean of IdP requests per `bin`, from the first whole
// minute after every pod had its first token (Result::measured_from_s) to
// the end. Result::peak_over_mean is this with one-minute bins; a small fleet
// needs longer bins to see waves above its Poisson noise.
double peak_over_mean(const Result& r, Ms bin);

}  // namespace tw::fleet
