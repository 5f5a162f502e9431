// agent.hpp -- tokenwell-agent: one event loop (Boost.Asio) that keeps every
// configured credential and keyset fresh, publishes it into the segment,
// serves the Unix-socket API and the TCP health/metrics listener, and
// reloads its config on SIGHUP.
//
//   auto config = load_config(path, process_environment());
//   Agent agent(std::get<AgentConfig>(config), path, process_environment(),
//               {.log_level = "debug"});
//   return agent.run();          // until SIGTERM / SIGINT; or agent.run_once()
//
// Each entry has a runner (refresh/, keysets/) with its timer; fetches run
// on workers, so a hanging IdP for one credential never delays another. The
// loop itself only waits on timers, signals, inotify and sockets: an idle
// agent uses no CPU. Time, fetch workers, HTTP clients and randomness are
// AgentServices, so a test drives the same Agent on simulated time:
//
//   SimulatedTime time;  ManualFetchExecutor fetches;
//   Agent agent(config, path, env, {}, {.time = &time, .executor = &fetches, .http = &fake});
//   agent.start();  fetches.run_pending();  time.advance(1min);  agent.reload();
//
// Not thread-safe: construct, run and destroy on one thread.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "tokenwell/agent/api/backend.hpp"
#include "tokenwell/agent/common/environment.hpp"
#include "tokenwell/agent/common/random_source.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/timer.hpp"
#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/refresh/fetch_executor.hpp"

namespace tw {

// What the agent takes from outside; null members get the real thing.
struct AgentServices {
  TimeSource* time = nullptr;          // the loop's timers on the system clocks
  FetchExecutor* executor = nullptr;   // a thread per fetch
  HttpClientFactory* http = nullptr;   // libcurl
  RandomSource* random = nullptr;      // getrandom(2); used on fetch workers: thread-safe
};

struct AgentOptions {
  // --log-level: wins over the config's log.level, at start-up and on every
  // reload. Empty: the config's.
  std::string log_level;
};

class Agent {
 public:
  Agent(AgentConfig config, std::filesystem::path config_path, Environment env, AgentOptions options = {},
        AgentServices services = {});
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until SIGTERM or SIGINT; returns the process exit code (0 after a
  // graceful stop, 1 when the segment or a listener cannot be opened).
  int run();

  // Fetches every credential and keyset once, publishes what it got, returns 0 if all
  // succeeded, 1 otherwise. For Jobs and init containers.
  int run_once();

  // The parts of run() a test drives on simulated time: start() opens the
  // segment and starts every runner (no listeners, no signals); reload() is
  // what SIGHUP does; api() answers as the socket API would.
  Result<void> start();
  void reload();
  ApiBackend& api();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tw
