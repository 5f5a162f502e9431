// admission.cpp -- see admission.hpp: the AdmissionReview envelope around
// plan_injection().
#include "tokenwell/injector/admission.hpp"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

#include "quote.hpp"
#include "tokenwell/injector/pod_injection.hpp"

namespace tw::injector {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kApiVersion = "admission.k8s.io/v1";
constexpr std::size_t kMaxUidBytes = 128;

// Whether no array or object in `text` nests deeper than `limit` (brackets
// inside strings do not count). Parsing is iterative, but freeing and
// comparing deep values is not; a Pod never comes close to the limit.
bool nesting_within(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Messages quote names cut short, possibly inside a UTF-8 sequence: such a
// byte is replaced rather than thrown about.
template <typename Json>
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

AdmissionAnswer invalid(std::string message) {
  AdmissionAnswer a;
  a.result = AdmissionResult::invalid;
  a.http_status = 400;
  a.body = dump(ordered_json{{"error", message}});
  a.message = std::move(message);
  return a;
}

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string string_or(const json& object, std::string_view key, std::string fallback = {}) {
  const json* v = member(object, key);
  return v && v->is_string() ? v->get<std::string>() : fallback;
}

std::string describe(const json& value) {
  if (value.is_string()) return quote(value.get_ref<const std::string&>(), 64);
  return std::string("a ") + value.type_name();
}

// "namespace/name", or "namespace/generateName*" for a pod a controller names later.
std::string pod_reference(const json& request, const json& pod) {
  const json* metadata = member(pod, "metadata");
  std::string ns = string_or(request, "namespace");
  if (ns.empty() && metadata) ns = string_or(*metadata, "namespace");
  std::string name = metadata ? string_or(*metadata, "name") : "";
  if (name.empty() && metadata) {
    name = string_or(*metadata, "generateName");
    if (!name.empty()) name += "*";
  }
  if (ns.size() > 63 || name.size() > 254) return "(a pod with an over-long name)";
  return (ns.empty() ? "?" : ns) + "/" + (name.empty() ? "?" : name);
}

}  // namespace

std::string_view to_string(AdmissionResult result) {
  switch (result) {
    case AdmissionResult::patched: return "patched";
    case AdmissionResult::unchanged: return "unchanged";
    case AdmissionResult::refused: return "refused";
    case AdmissionResult::invalid: return "invalid";
  }
  return "invalid";
}

AdmissionAnswer review(std::string_view body, const SidecarSpec& spec) {
  if (body.size() > kMaxReviewBytes)
    return invalid("request body is " + std::to_string(body.size()) + " bytes; at most " +
                   std::to_string(kMaxReviewBytes) + " are accepted");
  if (body.empty()) return invalid("request body is empty; expected an AdmissionReview (JSON)");
  if (!nesting_within(body, kMaxReviewNesting))
    return invalid("request body nests deeper than " + std::to_string(kMaxReviewNesting) +
                   " levels; not an AdmissionReview");
  json root;
  try {
    root = json::parse(body);
  } catch (const json::parse_error& e) {
    // The position only: the parser's own text quotes the input.
    return invalid("request body is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  } catch (const json::exception&) {
    return invalid("request body is not valid JSON");
  }
  if (!root.is_object()) return invalid("request body is " + describe(root) + ", not an AdmissionReview object");
  const json* api_version = member(root, "apiVersion");
  if (!api_version || *api_version != kApiVersion)
    return invalid("apiVersion: expected " + std::string(kApiVersion) + ", got " +
                   (api_version ? describe(*api_version) : "nothing") +
                   " (the webhook's admissionReviewVersions must be [v1])");
  const json* kind = member(root, "kind");
  if (!kind || *kind != "AdmissionReview")
    return invalid("kind: expected AdmissionReview, got " + (kind ? describe(*kind) : "nothing"));
  const json* request = member(root, "request");
  if (!request || !request->is_object())
    return invalid("request: expected an object, got " + (request ? describe(*request) : "nothing"));
  const json* uid = member(*request, "uid");
  if (!uid || !uid->is_string() || uid->get_ref<const std::string&>().empty() ||
      uid->get_ref<const std::string&>().size() > kMaxUidBytes)
    return invalid("request.uid: expected a non-empty string of at most " + std::to_string(kMaxUidBytes) +
                   " bytes, got " + (uid ? describe(*uid) : "nothing"));
  const json* object = member(*request, "object");
  if (!object || object->is_null())
    return invalid("request.object: missing; a CREATE of a Pod carries the Pod");
  if (object->is_string())
    return invalid("request.object: a string, not the Pod as a JSON object (admission.k8s.io/v1 sends "
                   "objects inline; only response.patch is base64)");
  if (!object->is_object()) return invalid("request.object: expected the Pod as an object, got " + describe(*object));

  AdmissionAnswer answer;
  answer.uid = uid->get<std::string>();
  answer.pod = pod_reference(*request, *object);
  const json* dry_run = member(*request, "dryRun");
  answer.dry_run = dry_run && dry_run->is_boolean() && dry_run->get<bool>();
  answer.http_status = 200;

  ordered_json response = {{"uid", answer.uid}, {"allowed", true}};
  const json* request_kind = member(*request, "kind");
  const std::string object_kind = request_kind ? string_or(*request_kind, "kind") : string_or(*object, "kind", "Pod");
  const std::string operation = string_or(*request, "operation", "CREATE");
  const std::string sub_resource = string_or(*request, "subResource");
  if (object_kind != "Pod" || operation != "CREATE" || !sub_resource.empty()) {
    // The webhook's rules send only pod creations; anything else passes untouched.
    answer.result = AdmissionResult::unchanged;
    answer.message = "not a Pod CREATE (kind " + quote(object_kind, 64) + ", operation " +
                     quote(operation, 16) + (sub_resource.empty() ? "" : ", subresource " + quote(sub_resource, 32)) +
                     "): check the webhook's rules";
  } else {
    Injection plan = plan_injection(*object, spec);
    answer.message = plan.message;
    switch (plan.outcome) {
      case Injection::Outcome::patch:
        answer.result = AdmissionResult::patched;
        response["patchType"] = "JSONPatch";
        response["patch"] = base64(dump(plan.patch));
        break;
      case Injection::Outcome::unchanged:
        answer.result = AdmissionResult::unchanged;
        break;
      case Injection::Outcome::refused:
        answer.result = AdmissionResult::refused;
        response["allowed"] = false;
        response["status"] = {{"code", 400}, {"reason", "BadRequest"}, {"message", "tokenwell: " + plan.message}};
        break;
    }
  }
  answer.body = dump(
      ordered_json{{"apiVersion", kApiVersion}, {"kind", "AdmissionReview"}, {"response", std::move(response)}});
  return answer;
}

}  // namespace tw::injector
