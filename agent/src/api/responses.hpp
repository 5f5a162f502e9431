// responses.hpp -- the answers both listeners build: JSON documents, the
// JSON error shape {"error": "...", ...}, health and readiness.
//
//   return json_error(http::status::not_found, "unknown name", {{"name", name}});
//
// Free functions; thread-compatible.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "http_server.hpp"
#include "tokenwell/agent/api/backend.hpp"

namespace tw::api {

// What a peer refused at accept receives, written at once and whole (it fits
// any socket buffer): the 403 json_error(forbidden, "forbidden") gives, with
// Connection: close, so clients see the same answer as before.
inline constexpr std::string_view kForbiddenAtAccept =
    "HTTP/1.1 403 Forbidden\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 22\r\n"
    "Connection: close\r\n"
    "\r\n"
    "{\"error\":\"forbidden\"}\n";

// `body` serialized; invalid UTF-8 (never expected) is replaced, not thrown.
Response json_response(http::status status, const nlohmann::ordered_json& body);

// {"error": message} plus `extra` fields (e.g. the entry's name).
Response json_error(http::status status, std::string_view message,
                    nlohmann::ordered_json extra = nlohmann::ordered_json::object());

Response method_not_allowed(std::string_view allowed);

// 200 "ok": answering at all proves the event loop turns.
Response health_response();

// 200 or 503, {"ready": bool, "reasons": [{"name", "reason"}, ...]}.
Response readiness_response(const ApiBackend::Readiness& readiness);

// Overwrites a response body before its memory is freed: the credential
// endpoint's body holds a token.
void wipe_body(Response& response);

}  // namespace tw::api
