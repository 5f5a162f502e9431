// injector_test_support.hpp -- what the injector tests share: the fixture
// pods and the chart's sidecar spec (tests/injector/pods, sidecar-spec.json),
// AdmissionReviews around a pod, and the answer taken apart: its JSON, and
// its patch decoded and applied with nlohmann::json::patch (an RFC 6902
// implementation that is not the injector's).
//
//   json review = admission_review(load_pod("deployment-pod.json"));
//   Answer a = answer(review);
//   json pod_after = a.patched(review["request"]["object"]);
#pragma once

#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenwell/injector/admission.hpp"
#include "tokenwell/injector/sidecar_spec.hpp"

namespace tw::injector::test {

using nlohmann::json;

inline std::filesystem::path test_dir() { return TOKENWELL_INJECTOR_TEST_DIR; }

inline json load_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

inline json load_pod(const std::string& name) { return load_json(test_dir() / "pods" / name); }

// The sidecar as the chart renders it (templates/injector-configmap.yaml).
inline const SidecarSpec& chart_spec() {
  static const SidecarSpec spec = [] {
    auto s = load_sidecar_spec(test_dir() / "sidecar-spec.json");
    if (!s) throw std::runtime_error(s.error().message);
    return *s;
  }();
  return spec;
}

inline json admission_review(const json& pod, const std::string& uid = "705ab4f5-6393-11e8-b7cc-42010a800002") {
  const auto metadata = pod.find("metadata");
  const std::string ns =
      metadata != pod.end() && metadata->is_object() ? metadata->value("namespace", "default") : "default";
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", uid},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
            {"requestKind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"requestResource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
            {"namespace", ns},
            {"operation", "CREATE"},
            {"userInfo", {{"username", "system:serviceaccount:kube-system:replicaset-controller"}}},
            {"object", pod},
            {"oldObject", nullptr},
            {"dryRun", false},
            {"options", {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "CreateOptions"}}}}}};
}

inline std::string base64_decode(const std::string& text) {
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) throw std::runtime_error("not base64");
  std::size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

struct Answer {
  AdmissionAnswer raw;
  json body;
  json response() const { return body.value("response", json::object()); }
  bool allowed() const { return response().value("allowed", false); }
  bool has_patch() const { return response().contains("patch"); }
  json patch() const { return json::parse(base64_decode(response()["patch"].get<std::string>())); }
  // The pod after the API server applied the patch (nlohmann's RFC 6902).
  json patched(const json& pod) const { return has_patch() ? pod.patch(patch()) : pod; }
  std::string status_message() const { return response().value("status", json::object()).value("message", ""); }
};

inline Answer answer(const std::string& body, const SidecarSpec& spec = chart_spec()) {
  Answer a;
  a.raw = review(body, spec);
  a.body = json::parse(a.raw.body);
  return a;
}
inline Answer answer(const json& review_json, const SidecarSpec& spec = chart_spec()) {
  return answer(review_json.dump(), spec);
}

// The container called `name` in the pod's containers or initContainers.
inline json container(const json& pod, const std::string& name) {
  for (const char* list : {"initContainers", "containers"})
    for (const json& c : pod["spec"].value(list, json::array()))
      if (c["name"] == name) return c;
  return nullptr;
}

inline json env_value(const json& c, const std::string& name) {
  for (const json& e : c.value("env", json::array()))
    if (e["name"] == name) return e.value("value", json());
  return nullptr;
}

}  // namespace tw::injector::test
