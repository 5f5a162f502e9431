// injector_routes.cpp -- see injector_routes.hpp.
#include "tokenwell/injector/injector_routes.hpp"

#include <chrono>

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/injector/admission.hpp"

namespace tw::injector {
namespace {

namespace http = boost::beast::http;

Response text(http::status status, std::string body, const char* content_type = "text/plain; charset=utf-8") {
  Response r{status, 11};
  r.set(http::field::content_type, content_type);
  r.body() = std::move(body);
  return r;
}

Response json_error(http::status status, std::string_view message) {
  return text(status,
              nlohmann::ordered_json{{"error", message}}.dump(-1, ' ', false,
                                                              nlohmann::json::error_handler_t::replace),
              "application/json");
}

}  // namespace

InjectorRoutes::InjectorRoutes(const SidecarSpec& spec, InjectorMetrics& metrics) : spec_(spec), metrics_(metrics) {
  metrics_.set_ready(true);
}

void InjectorRoutes::set_ready(bool ready) {
  ready_ = ready;
  metrics_.set_ready(ready);
}

Response InjectorRoutes::handle(const Request& request) {
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  const auto method = request.method();
  if (path == "/mutate") {
    if (method != http::verb::post) {
      Response r = json_error(http::status::method_not_allowed, "POST an AdmissionReview to /mutate");
      r.set(http::field::allow, "POST");
      return r;
    }
    return mutate(request);
  }
  if (path != "/healthz" && path != "/readyz" && path != "/metrics")
    return json_error(http::status::not_found, "not found");
  if (method != http::verb::get) {
    Response r = json_error(http::status::method_not_allowed, "method not allowed");
    r.set(http::field::allow, "GET");
    return r;
  }
  if (path == "/healthz") return text(http::status::ok, "ok\n");
  if (path == "/readyz")
    return ready_ ? text(http::status::ok, "ready\n") : text(http::status::service_unavailable, "draining\n");
  return text(http::status::ok, metrics_.scrape(), "text/plain; version=0.0.4; charset=utf-8");
}

Response InjectorRoutes::mutate(const Request& request) {
  const auto started = std::chrono::steady_clock::now();
  const AdmissionAnswer answer = review(request.body(), spec_);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  metrics_.admission(answer.result, took);

  const std::string_view result = to_string(answer.result);
  const double took_ms = took.count() * 1000;
  switch (answer.result) {
    case AdmissionResult::patched:
      log::info("sidecar injected", {{"uid", answer.uid}, {"pod", answer.pod}, {"dry_run", answer.dry_run},
                                     {"took_ms", took_ms}});
      break;
    case AdmissionResult::refused:
      log::warn("pod refused", {{"uid", answer.uid}, {"pod", answer.pod}, {"dry_run", answer.dry_run},
                                {"reason", answer.message}});
      break;
    case AdmissionResult::invalid:
      log::warn("admission request answered 400", {{"reason", answer.message}});
      break;
    case AdmissionResult::unchanged:
      if (log::enabled(log::Level::debug))
        log::debug("pod unchanged", {{"uid", answer.uid}, {"pod", answer.pod}, {"result", result},
                                     {"reason", answer.message}});
      break;
  }
  return text(static_cast<http::status>(answer.http_status), answer.body, "application/json");
}

void InjectorRoutes::unreadable(std::string_view target, unsigned status) {
  // Only what was meant as a review counts as one; a scanner's bytes do not.
  if (target != "/mutate") return;
  metrics_.admission_unreadable();
  log::warn("admission request not readable; answered by the listener", {{"status", status}});
}

}  // namespace tw::injector
