// agent.hpp -- tokenwell-agent: one event loop (Boost.Asio) that keeps every
// configured credential fresh, publishes it into the segment, serves the
// Unix-socket API and the TCP health/metrics listener, and reloads its
// config on SIGHUP.
//
//   auto config = load_config(path, process_environment());
//   Agent agent(std::get<AgentConfig>(config), path, process_environment(), clock);
//   return agent.run();          // until SIGTERM / SIGINT; or agent.run_once()
//
// Each credential has a runner: a RefreshState (the timing rules), a timer
// on the loop, and fetches on a worker thread of their own, so a hanging IdP
// for one credential never delays another. The loop itself only waits on
// timers, signals, inotify and sockets: an idle agent uses no CPU.
// Keysets have runners too (agent/src/keyset_runner.hpp; docs/keysets.md).
// Not thread-safe: construct, run and destroy on one thread.
#pragma once

#include <filesystem>
#include <memory>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/config/config.hpp"

namespace tw {

class Agent {
 public:
  Agent(AgentConfig config, std::filesystem::path config_path, Environment env, const Clock& clock);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until SIGTERM or SIGINT; returns the process exit code (0 after a
  // graceful stop, 1 when the segment or a listener cannot be opened).
  int run();

  // Fetches every credential and keyset once, publishes what it got, returns 0 if all
  // succeeded, 1 otherwise. For Jobs and init containers.
  int run_once();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tw
