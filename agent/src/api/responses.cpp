// responses.cpp -- see responses.hpp.
#include "responses.hpp"

#include <string.h>

#include <boost/beast/http/field.hpp>

namespace tw::api {

Response json_response(http::status status, const nlohmann::ordered_json& body) {
  Response r{status, 11};
  r.set(http::field::content_type, "application/json");
  r.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.body() += '\n';
  return r;
}

Response json_error(http::status status, std::string_view message, nlohmann::ordered_json extra) {
  nlohmann::ordered_json body = {{"error", message}};
  for (auto& [key, value] : extra.items()) body[key] = std::move(value);
  return json_response(status, body);
}

Response method_not_allowed(std::string_view allowed) {
  Response r = json_error(http::status::method_not_allowed, "method not allowed");
  r.set(http::field::allow, boost::beast::string_view(allowed.data(), allowed.size()));
  return r;
}

Response health_response() {
  Response r{http::status::ok, 11};
  r.set(http::field::content_type, "text/plain; charset=utf-8");
  r.body() = "ok\n";
  return r;
}

Response readiness_response(const ApiBackend::Readiness& readiness) {
  auto reasons = nlohmann::ordered_json::array();
  for (const ApiBackend::NotReady& r : readiness.reasons)
    reasons.push_back({{"name", r.name}, {"reason", r.reason}});
  return json_response(readiness.ready ? http::status::ok : http::status::service_unavailable,
                       {{"ready", readiness.ready}, {"reasons", std::move(reasons)}});
}

void wipe_body(Response& response) {
  std::string& body = response.body();
  if (!body.empty()) explicit_bzero(body.data(), body.size());
  body.clear();
}

}  // namespace tw::api
