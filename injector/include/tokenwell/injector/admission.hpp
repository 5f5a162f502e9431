// admission.hpp -- one AdmissionReview (admission.k8s.io/v1) in, the answer
// out: the HTTP status and body for POST /mutate. Pure (no I/O, no clock),
// so it is unit-tested and fuzzed as is; the HTTPS server only moves bytes.
//
//   AdmissionAnswer a = review(request_body, spec);
//   reply(a.http_status, a.body);        // 200 + AdmissionReview, or 400 + {"error": ...}
//   metrics.admission(a.result, took);   // patched | unchanged | refused | invalid
//
// A review that is not one (not JSON, wrong apiVersion or kind, no uid, no
// Pod) is answered 400 with {"error": "..."} naming what is wrong; the pod's
// own problems are answered `allowed: false` with the reason in
// response.status.message. `dryRun` requests are answered the same way: the
// injector has no side effects. Nothing of the request is echoed beyond the
// uid and short quoted names. Thread-safe (pure).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tokenwell/injector/sidecar_spec.hpp"

namespace tw::injector {

// The body limit of POST /mutate: a pod etcd accepts (1.5 MiB) plus the
// review around it.
inline constexpr std::size_t kMaxReviewBytes = 2 * 1024 * 1024;
// Deeper JSON than this is refused before parsing: a Pod nests about 10 deep.
inline constexpr int kMaxReviewNesting = 100;

enum class AdmissionResult { patched, unchanged, refused, invalid };
std::string_view to_string(AdmissionResult result);

struct AdmissionAnswer {
  AdmissionResult result = AdmissionResult::invalid;
  unsigned http_status = 400;
  std::string body;
  // For the log line: why (refused, invalid, unchanged), and which pod.
  std::string message;
  std::string uid;
  std::string pod;  // "namespace/name" or "namespace/generateName*"
  bool dry_run = false;
};

AdmissionAnswer review(std::string_view body, const SidecarSpec& spec);

}  // namespace tw::injector
