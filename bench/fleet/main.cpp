// main.cpp -- the `fleet` command: runs presets for every policy and prints
// one Markdown table (docs/fleet.md holds one), optionally a CSV per preset
// (one row per second and policy) and a JSON summary.
//
//   fleet [--preset NAME]... [--pods 10000] [--policies tokenwell,node-redis,...]
//         [--processes 8] [--seed 1] [--threads 1] [--csv DIR] [--json FILE] [--outage-hangs]
//         [--ratio R] [--jitter J] [--min-remaining D] [--retry-min D] [--retry-max D]
//         [--retry-max-expired D] [--retry-after-max D]      (tokenwell's refresh settings)
//
// Durations: "250ms", "10s", "5m", "1h" or a number of seconds.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fleet.hpp"

namespace {

using namespace tw::fleet;

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "fleet: " << why << "\n"
            << "usage: fleet [--preset NAME]... [--pods N] [--policies a,b] [--processes P] [--seed S]\n"
               "             [--csv DIR] [--json FILE] [--outage-hangs] [tokenwell refresh settings]\n"
               "presets:";
  for (const auto& n : preset_names()) std::cerr << " " << n;
  std::cerr << "\n";
  std::exit(2);
}

std::chrono::milliseconds duration(const std::string& text) {
  std::size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (const std::exception&) {
    usage("not a duration: '" + text + "'");
  }
  const std::string unit = text.substr(end);
  const double ms = unit == "ms" ? v : unit == "" || unit == "s" ? v * 1e3 : unit == "m" ? v * 6e4
                    : unit == "h" ? v * 3.6e6 : -1;
  if (ms < 0) usage("not a duration: '" + text + "'");
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string fixed(double v, int digits) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(digits) << v;
  return o.str();
}

nlohmann::json summary(const Result& r, double seconds) {
  return {{"scenario", r.scenario},
          {"policy", r.policy},
          {"pods", r.pods},
          {"processes_per_pod", r.processes_per_pod},
          {"requests", r.requests},
          {"throttled", r.throttled},
          {"failed", r.failed},
          {"requests_per_pod_hour", r.requests_per_pod_hour},
          {"peak_over_mean", r.peak_over_mean},
          {"peak_per_min", r.peak_per_min},
          {"mean_per_min", r.mean_per_min},
          {"measured_from_s", r.measured_from_s},
          {"expired_while_up", r.expired_while_up},
          {"max_pods_without", r.max_pods_without},
          {"pod_seconds_without", r.pod_seconds_without},
          {"recovering", r.recovering},
          {"unrecovered", r.unrecovered},
          {"recovery_p50_s", r.recovery_p50_s},
          {"recovery_p99_s", r.recovery_p99_s},
          {"recovery_max_s", r.recovery_max_s},
          {"outage_requests_per_pod_min", r.outage_requests_per_pod_min},
          {"throttle_load_ratio", r.throttle_load_ratio},
          {"run_seconds", seconds}};
}

void write_csv(const std::filesystem::path& file, const std::vector<Result>& results) {
  std::ofstream out(file);
  out << "t_s,policy,requests,ok,throttled,failed,pods_without_valid_token\n";
  for (const auto& r : results) {
    const auto& s = r.series;
    for (std::size_t t = 0; t < s.requests.size(); ++t)
      out << t << ',' << r.policy << ',' << s.requests[t] << ',' << s.ok[t] << ',' << s.throttled[t]
          << ',' << s.failed[t] << ',' << s.pods_without[t] << '\n';
  }
  if (!out) {
    std::cerr << "fleet: cannot write " << file << "\n";
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> presets;
  unsigned pods = 10'000, processes = 8, threads = 1;
  std::uint64_t seed = 1;
  std::vector<PolicyKind> kinds = all_policies();
  std::string csv_dir, json_file;
  bool outage_hangs = false;
  tw::RefreshSettings settings;
  using Setter = std::function<void(const std::string&)>;
  const std::map<std::string, Setter> refresh_flags = {
      {"--ratio", [&](const std::string& v) { settings.ratio = std::stod(v); }},
      {"--jitter", [&](const std::string& v) { settings.jitter = std::stod(v); }},
      {"--min-remaining", [&](const std::string& v) { settings.min_remaining = duration(v); }},
      {"--retry-min", [&](const std::string& v) { settings.retry_min = duration(v); }},
      {"--retry-max", [&](const std::string& v) { settings.retry_max = duration(v); }},
      {"--retry-max-expired", [&](const std::string& v) { settings.retry_max_expired = duration(v); }},
      {"--retry-after-max", [&](const std::string& v) { settings.retry_after_max = duration(v); }},
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--outage-hangs") {
      outage_hangs = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") usage("runs the fleet presets");
    if (i + 1 >= argc) usage("missing value for " + flag);
    const std::string value = argv[++i];
    try {
      if (flag == "--preset") {
        if (value == "all") {
          presets = preset_names();
        } else {
          presets.push_back(value);
        }
      } else if (flag == "--pods") {
        pods = static_cast<unsigned>(std::stoul(value));
      } else if (flag == "--processes") {
        processes = static_cast<unsigned>(std::stoul(value));
      } else if (flag == "--threads") {
        threads = std::max(1u, static_cast<unsigned>(std::stoul(value)));
      } else if (flag == "--seed") {
        seed = std::stoull(value);
      } else if (flag == "--policies") {
        kinds.clear();
        for (const auto& n : split(value)) kinds.push_back(policy_kind(n));
      } else if (flag == "--csv") {
        csv_dir = value;
      } else if (flag == "--json") {
        json_file = value;
      } else if (auto it = refresh_flags.find(flag); it != refresh_flags.end()) {
        it->second(value);
      } else {
        usage("unknown option " + flag);
      }
    } catch (const std::invalid_argument& e) {
      usage(e.what());
    }
  }
  if (presets.empty()) presets = preset_names();
  if (!csv_dir.empty()) std::filesystem::create_directories(csv_dir);

  nlohmann::json all = nlohmann::json::array();
  std::cout << "| preset | policy | IdP requests / pod / h | peak / mean req per min | 429s | "
               "expired while IdP up | max pods without token | recovery p50 / p99 / max s (pods) | "
               "outage req / pod / min | throttle load / capacity |\n"
               "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& name : presets) {
    Scenario s;
    try {
      s = preset(name, pods);
    } catch (const std::invalid_argument& e) {
      usage(e.what());
    }
    s.seed = seed;
    s.idp.outage_hangs = outage_hangs;
    const auto t0 = std::chrono::steady_clock::now();
    // Policies are independent runs: up to `threads` at once.
    std::vector<std::future<std::pair<Result, double>>> runs;
    std::vector<Result> results;
    std::vector<double> seconds;
    auto collect = [&] {
      auto [r, took] = runs.front().get();
      runs.erase(runs.begin());
      results.push_back(std::move(r));
      seconds.push_back(took);
    };
    for (PolicyKind k : kinds) {
      Policy p = policy(k, processes);
      p.tokenwell = settings;
      if (runs.size() == threads) collect();
      runs.push_back(std::async(std::launch::async, [&s, p] {
        const auto p0 = std::chrono::steady_clock::now();
        Result r = simulate(s, p);
        return std::pair{std::move(r), std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count()};
      }));
    }
    while (!runs.empty()) collect();
    for (std::size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      all.push_back(summary(r, seconds[i]));
      std::cout << "| " << name << " | " << r.policy
                << (r.processes_per_pod > 1 ? " (" + std::to_string(r.processes_per_pod) + "/pod)" : "")
                << " | " << fixed(r.requests_per_pod_hour, 2) << " | " << fixed(r.peak_over_mean, 2)
                << " | " << r.throttled << " | " << r.expired_while_up << " | " << r.max_pods_without
                << " | "
                << (r.recovering ? fixed(r.recovery_p50_s, 1) + " / " + fixed(r.recovery_p99_s, 1) + " / " +
                                       fixed(r.recovery_max_s, 1) + " (" + std::to_string(r.recovering) +
                                       (r.unrecovered ? ", " + std::to_string(r.unrecovered) + " never" : "") + ")"
                                 : "-")
                << " | " << (s.idp.outages.empty() ? "-" : fixed(r.outage_requests_per_pod_min, 2)) << " | "
                << (s.idp.throttle ? fixed(r.throttle_load_ratio, 2) : "-") << " |" << std::endl;
    }
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cerr << "fleet: " << name << " (" << s.description << "), " << pods << " pods: " << fixed(took, 1)
              << " s\n";
    if (!csv_dir.empty()) write_csv(std::filesystem::path(csv_dir) / (name + ".csv"), results);
  }
  if (!json_file.empty()) {
    std::ofstream out(json_file);
    out << all.dump(1) << "\n";
  }
  return 0;
}
