// Fuzzes the injector's POST /mutate body: an AdmissionReview around a pod,
// as anything that reaches the webhook's port may send it. None may crash
// the injector or make it throw; every answer is JSON (a 400 with "error",
// or an AdmissionReview echoing the uid); a patch applies to the pod it was
// planned for (nlohmann::json::patch) and planning again on the patched pod
// adds nothing (a reinvocation is a no-op).
#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenwell/injector/admission.hpp"

namespace {

using nlohmann::json;
using tw::injector::AdmissionResult;

const tw::injector::SidecarSpec& spec() {
  static const tw::injector::SidecarSpec s = [] {
    auto loaded = tw::injector::load_sidecar_spec(TOKENWELL_INJECTOR_SPEC);
    if (!loaded) std::abort();
    return *loaded;
  }();
  return s;
}

std::string base64_decode(const std::string& text) {
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) std::abort();
  std::size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto answer = tw::injector::review(body, spec());

  const json out = json::parse(answer.body, nullptr, false);
  if (out.is_discarded() || !out.is_object()) std::abort();
  if (answer.result == AdmissionResult::invalid) {
    if (answer.http_status != 400 || !out.contains("error")) std::abort();
    return 0;
  }
  if (answer.http_status != 200 || out["response"]["uid"] != answer.uid) std::abort();
  const bool allowed = out["response"]["allowed"].get<bool>();
  const bool has_patch = out["response"].contains("patch");
  if (allowed != (answer.result != AdmissionResult::refused)) std::abort();
  if (has_patch != (answer.result == AdmissionResult::patched)) std::abort();
  if (!has_patch) return 0;

  // The API server applies the patch to the pod it sent, then calls again.
  json review_json = json::parse(body);
  const json patch = json::parse(base64_decode(out["response"]["patch"].get<std::string>()));
  if (!patch.is_array() || patch.empty()) std::abort();
  review_json["request"]["object"] = review_json["request"]["object"].patch(patch);  // throws on a bad op
  const auto again = tw::injector::review(review_json.dump(), spec());
  if (again.result != AdmissionResult::unchanged) std::abort();
  return 0;
}
