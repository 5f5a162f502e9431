// presets.cpp -- the named scenarios and the policies' documented defaults
// (docs/fleet.md says where each default comes from).
#include <stdexcept>

#include "fleet.hpp"

namespace tw::fleet {

std::vector<std::string> preset_names() {
  return {"rollout", "steady", "outage-5m", "outage-30m", "throttle", "clock-skew", "mixed-lifetimes"};
}

Scenario preset(const std::string& name, unsigned pods) {
  Scenario s;
  s.name = name;
  s.pods = pods;
  // A new rollout: every pod starts within a minute, with no token.
  const Window rollout{0, kMinute};
  // A fleet that has been running: pods started over the first hour.
  const Window running{0, kHour};
  if (name == "rollout") {
    s.description = "all pods start within 60 s; 6 h";
    s.starts = rollout;
    s.duration = 6 * kHour;
  } else if (name == "steady") {
    s.description = "pods start over the first hour; 24 h";
    s.starts = running;
    s.duration = 24 * kHour;
  } else if (name == "outage-5m" || name == "outage-30m") {
    // The outage meets a rollout: the pods that started before it have a
    // token, the others have none until the IdP is back.
    const Ms length = name == "outage-5m" ? 5 * kMinute : 30 * kMinute;
    s.description = "rollout; IdP refuses connections from 30 s for " +
                    std::string(name == "outage-5m" ? "5" : "30") + " min; 3 h";
    s.starts = rollout;
    s.idp.outages = {{30 * kSecond, 30 * kSecond + length}};
    s.duration = 3 * kHour;
  } else if (name == "throttle") {
    // The rollout asks for tokens at 5x what the IdP serves for 10 minutes
    // (it could serve every pod once in 5 minutes).
    s.description = "rollout; IdP capacity pods/300 per second for the first 10 min; 2 h";
    s.starts = rollout;
    s.idp.throttle = Window{0, 10 * kMinute};
    s.idp.throttled_capacity_per_s = pods / 300.0;
    s.duration = 2 * kHour;
  } else if (name == "clock-skew") {
    s.description = "pods start over the first hour, clocks off by up to +-2 min; 6 h";
    s.starts = running;
    s.clock_skew = 2 * kMinute;
    s.duration = 6 * kHour;
  } else if (name == "mixed-lifetimes") {
    s.description = "pods start over the first hour; 1/3 each: 60-90 min, 24 h (refresh_in 12 h), 10 min; 24 h";
    s.starts = running;
    s.lifetimes = {1, 1, 1};
    s.duration = 24 * kHour;
  } else {
    throw std::invalid_argument("unknown preset '" + name + "'");
  }
  return s;
}

std::vector<PolicyKind> all_policies() {
  return {PolicyKind::tokenwell, PolicyKind::redis_py, PolicyKind::node_redis, PolicyKind::go_redis,
          PolicyKind::spire};
}

PolicyKind policy_kind(const std::string& name) {
  for (PolicyKind k : all_policies())
    if (policy(k).name == name) return k;
  throw std::invalid_argument("unknown policy '" + name +
                              "' (tokenwell, redis-py, node-redis, go-redis, spire)");
}

Policy policy(PolicyKind kind, unsigned processes) {
  Policy p;
  p.kind = kind;
  switch (kind) {
    case PolicyKind::tokenwell: p.name = "tokenwell"; break;  // one agent per pod
    case PolicyKind::redis_py: p.name = "redis-py"; p.processes_per_pod = processes; break;
    case PolicyKind::node_redis: p.name = "node-redis"; p.processes_per_pod = processes; break;
    case PolicyKind::go_redis: p.name = "go-redis"; p.processes_per_pod = processes; break;
    case PolicyKind::spire: p.name = "spire"; break;  // one agent per pod, as tokenwell
  }
  return p;
}

}  // namespace tw::fleet
