// injector_metrics.hpp -- the injector's Prometheus metrics, behind typed
// methods so each name and label is spelled once (docs/metrics.md, "The
// injector", lists them; the chart's alerts use them).
//
//   InjectorMetrics metrics(TOKENWELL_VERSION_STRING);
//   metrics.admission(answer.result, took);
//   metrics.tls_reload(false);
//   std::string text = metrics.scrape();   // GET /metrics
//
// Label values are fixed words only. Thread-safe (prometheus-cpp locks its
// families; the server's threads record at once).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "tokenwell/injector/admission.hpp"

namespace tw::injector {

class InjectorMetrics {
 public:
  explicit InjectorMetrics(std::string_view version);
  ~InjectorMetrics();
  InjectorMetrics(const InjectorMetrics&) = delete;
  InjectorMetrics& operator=(const InjectorMetrics&) = delete;

  // One POST /mutate answered; `took` is the time to decide, from the
  // request read in full to the response built.
  void admission(AdmissionResult result, std::chrono::duration<double> took);
  // A POST /mutate the listener could not read (too large, not HTTP) and
  // answered itself: counted as invalid, with no decision time.
  void admission_unreadable();
  // The certificate and key files changed and were loaded (or not: the
  // previous pair keeps serving).
  void tls_reload(bool ok);
  // When the certificate in use expires (unix seconds).
  void tls_certificate_expires(double unix_seconds);
  void set_ready(bool ready);

  // Prometheus text format 0.0.4.
  std::string scrape() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tw::injector
