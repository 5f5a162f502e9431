// injector_routes.hpp -- what the injector's HTTPS listener answers:
//   POST /mutate    an AdmissionReview (admission.k8s.io/v1) -> review()
//   GET  /healthz   200 "ok": the listener answers
//   GET  /readyz    200 while serving, 503 while draining before exit
//   GET  /metrics   Prometheus text format 0.0.4
// Everything else is 404 (405 for a known path with another method). Each
// admission decision is logged (patched at info, refused and invalid at
// warn, unchanged at debug) with the request's uid and the pod's
// namespace/name -- never the pod's content.
//
//   InjectorRoutes routes(spec, metrics);
//   auto server = HttpsServer::open(io, options, certificates, routes);
//   ... routes.set_ready(false);   // SIGTERM: drain
//
// Thread-safe.
#pragma once

#include <atomic>

#include "tokenwell/injector/https_server.hpp"
#include "tokenwell/injector/injector_metrics.hpp"
#include "tokenwell/injector/sidecar_spec.hpp"

namespace tw::injector {

class InjectorRoutes final : public RequestHandler {
 public:
  // `spec` and `metrics` must outlive the routes. Starts ready.
  InjectorRoutes(const SidecarSpec& spec, InjectorMetrics& metrics);

  Response handle(const Request& request) override;
  void unreadable(std::string_view target, unsigned status) override;

  void set_ready(bool ready);

 private:
  Response mutate(const Request& request);

  const SidecarSpec& spec_;
  InjectorMetrics& metrics_;
  std::atomic<bool> ready_{true};
};

}  // namespace tw::injector
