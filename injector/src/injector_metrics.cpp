// injector_metrics.cpp -- the families; each HELP text is the metric's
// documentation (docs/metrics.md repeats them).
#include "tokenwell/injector/injector_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace tw::injector {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// A decision takes tens to hundreds of microseconds; the API server gives
// the webhook at most timeoutSeconds (5 s in the chart).
const Histogram::BucketBoundaries kDecisionBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    1};

}  // namespace

struct InjectorMetrics::Impl {
  prometheus::Registry registry;

  Family<Counter>& requests =
      prometheus::BuildCounter()
          .Name("tokenwell_injector_admission_requests_total")
          .Help("AdmissionReviews answered on POST /mutate by result: patched (a non-empty patch), "
                "unchanged (already injected, not opted in, or not a pod creation), refused "
                "(allowed: false, the reason in the status message), invalid (answered 400: not "
                "an AdmissionReview).")
          .Register(registry);
  Counter& patched = requests.Add({{"result", "patched"}});
  Counter& unchanged = requests.Add({{"result", "unchanged"}});
  Counter& refused = requests.Add({{"result", "refused"}});
  Counter& invalid = requests.Add({{"result", "invalid"}});

  Histogram& duration = prometheus::BuildHistogram()
                            .Name("tokenwell_injector_admission_duration_seconds")
                            .Help("How long one AdmissionReview took to decide, from the request "
                                  "read in full to the response built.")
                            .Register(registry)
                            .Add({}, kDecisionBuckets);

  Family<Counter>& reloads =
      prometheus::BuildCounter()
          .Name("tokenwell_injector_tls_reloads_total")
          .Help("Loads of a changed serving certificate and key by result; after a failure the "
                "previous pair keeps serving.")
          .Register(registry);
  Counter& reload_success = reloads.Add({{"result", "success"}});
  Counter& reload_failure = reloads.Add({{"result", "failure"}});

  Gauge& expiry = prometheus::BuildGauge()
                      .Name("tokenwell_injector_tls_certificate_expiry_timestamp_seconds")
                      .Help("When the serving certificate in use expires, in unix seconds.")
                      .Register(registry)
                      .Add({});

  Gauge& ready = prometheus::BuildGauge()
                     .Name("tokenwell_injector_ready")
                     .Help("1 while the injector serves admission requests (what /readyz answers "
                           "200 for); 0 while it drains before exiting.")
                     .Register(registry)
                     .Add({});

  Family<Gauge>& build_info = prometheus::BuildGauge()
                                  .Name("tokenwell_build_info")
                                  .Help("Always 1; the label says which version runs.")
                                  .Register(registry);
};

InjectorMetrics::InjectorMetrics(std::string_view version) : impl_(std::make_unique<Impl>()) {
  impl_->build_info.Add({{"version", std::string(version)}}).Set(1);
}

InjectorMetrics::~InjectorMetrics() = default;

void InjectorMetrics::admission(AdmissionResult result, std::chrono::duration<double> took) {
  switch (result) {
    case AdmissionResult::patched: impl_->patched.Increment(); break;
    case AdmissionResult::unchanged: impl_->unchanged.Increment(); break;
    case AdmissionResult::refused: impl_->refused.Increment(); break;
    case AdmissionResult::invalid: impl_->invalid.Increment(); break;
  }
  impl_->duration.Observe(took.count());
}

void InjectorMetrics::admission_unreadable() { impl_->invalid.Increment(); }

void InjectorMetrics::tls_reload(bool ok) { (ok ? impl_->reload_success : impl_->reload_failure).Increment(); }

void InjectorMetrics::tls_certificate_expires(double unix_seconds) { impl_->expiry.Set(unix_seconds); }

void InjectorMetrics::set_ready(bool ready) { impl_->ready.Set(ready ? 1 : 0); }

std::string InjectorMetrics::scrape() const {
  return prometheus::TextSerializer().Serialize(impl_->registry.Collect());
}

}  // namespace tw::injector
