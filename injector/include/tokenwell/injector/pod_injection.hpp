// pod_injection.hpp -- the decision at the heart of the injector: given a
// pod (as the API server sends it on CREATE) and the sidecar spec, the RFC
// 6902 JSON Patch that adds the sidecar, or nothing (already injected, not
// opted in), or a refusal that says what to change. Pure: no I/O, no clock.
//
//   Injection plan = plan_injection(pod, spec);
//   switch (plan.outcome) {
//     case Injection::Outcome::patch:     respond(plan.patch); break;     // non-empty
//     case Injection::Outcome::unchanged: respond_allowed(); break;       // plan.message: why
//     case Injection::Outcome::refused:   deny(plan.message); break;
//   }
//
// Applying the patch and planning again gives `unchanged` (the sidecar is
// there), so a reinvocation adds nothing. A clash is refused before any
// operation is planned: there is never a half patch. Thread-safe (pure).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenwell/injector/sidecar_spec.hpp"

namespace tw::injector {

// What a pod says (DESIGN.md "Wave 2 contracts"; every one in docs/injector.md).
inline constexpr std::string_view kInjectLabel = "tokenwell.io/inject";  // "true" opts in
inline constexpr std::string_view kConfigAnnotation = "tokenwell.io/config";
inline constexpr std::string_view kContainersAnnotation = "tokenwell.io/containers";
inline constexpr std::string_view kSidecarModeAnnotation = "tokenwell.io/sidecar-mode";
// Classic mode: the credential the postStart hook waits for.
inline constexpr std::string_view kWaitForAnnotation = "tokenwell.io/wait-for";
// The agent container's resources.
inline constexpr std::string_view kCpuRequestAnnotation = "tokenwell.io/cpu-request";
inline constexpr std::string_view kMemoryRequestAnnotation = "tokenwell.io/memory-request";
inline constexpr std::string_view kCpuLimitAnnotation = "tokenwell.io/cpu-limit";
inline constexpr std::string_view kMemoryLimitAnnotation = "tokenwell.io/memory-limit";

// What the Azure Workload Identity webhook reads and writes
// (github.com/Azure/azure-workload-identity, pkg/webhook/consts.go).
inline constexpr std::string_view kWorkloadIdentityLabel = "azure.workload.identity/use";
inline constexpr std::string_view kWorkloadIdentitySkipAnnotation =
    "azure.workload.identity/skip-containers";
inline constexpr std::string_view kWorkloadIdentityVolumePrefix = "azure-workload-identity-reserved-";

struct Injection {
  enum class Outcome { patch, unchanged, refused };
  Outcome outcome = Outcome::unchanged;
  // RFC 6902 operations (only `add`), when outcome == patch.
  nlohmann::json patch = nlohmann::json::array();
  // refused: what is wrong and what to do, for the person creating the pod;
  // unchanged: why nothing was added, for the log.
  std::string message;
};

Injection plan_injection(const nlohmann::json& pod, const SidecarSpec& spec);

}  // namespace tw::injector
