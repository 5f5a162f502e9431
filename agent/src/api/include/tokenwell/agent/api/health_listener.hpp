// health_listener.hpp -- the agent's TCP `listen` address, for Prometheus and
// the kubelet only: GET /metrics (text format 0.0.4), /healthz (200 "ok":
// answering proves the event loop turns) and /readyz (200 or 503 with the
// reasons, as on the socket). Everything else is 404: no credential, no
// secret, ever, on TCP.
//
//   auto health = HealthListener::open(io, {.listen = "0.0.0.0:9464"}, backend, metrics, time);
//   if (!health) return fail(health.error());
//   std::printf("metrics on port %u\n", (*health)->port());
//
// Each scrape refreshes tokenwell_ready from backend.readiness(), so the
// gauge and /readyz always agree.
// Thread-safety: as SocketApi (open and destroy on the io_context's thread;
// stop() from any thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "tokenwell/agent/api/backend.hpp"
#include "tokenwell/agent/api/http_limits.hpp"
#include "tokenwell/agent/metrics/metrics.hpp"
#include "tokenwell/agent/common/listen_address.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/timer.hpp"

namespace boost::asio {
class io_context;
}

namespace tw {

struct HealthListenerOptions {
  std::string listen = "0.0.0.0:9464";
  // Scrapers and probes need few connections and send their request at
  // once; the cap keeps descriptors for the socket API whatever reaches this
  // port, the short deadlines and shedding the oldest idle connection keep
  // idle connections from any pod from starving the kubelet's probes.
  HttpLimits limits{.header_timeout = std::chrono::seconds(3),
                    .idle_timeout = std::chrono::seconds(5),
                    .max_connections = 256,
                    .shed_idle_when_full = true};
};

class HealthListener {
 public:
  // `backend`, `metrics` and `time` must outlive the listener. accept()
  // failing and a handler that threw are logged (common/log.hpp).
  static Result<std::unique_ptr<HealthListener>> open(boost::asio::io_context& io,
                                                      const HealthListenerOptions& options,
                                                      const ApiBackend& backend,
                                                      Metrics& metrics, TimeSource& time);
  ~HealthListener();
  HealthListener(const HealthListener&) = delete;
  HealthListener& operator=(const HealthListener&) = delete;

  // The bound port (the one picked when `listen` asked for port 0).
  std::uint16_t port() const;

  // Stops accepting, lets requests in flight finish within
  // limits.stop_grace, then calls `on_stopped` on the io_context.
  void stop(std::function<void()> on_stopped = {});

 private:
  struct Impl;
  explicit HealthListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tw
