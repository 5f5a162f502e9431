// socket_routes.hpp -- what each request on the Unix socket means: matching
// the target to a route, checking method and query, asking the backend and
// shaping the JSON answer (or a long-poll). Authorization happens before
// (socket_api.cpp); bytes and deadlines are http_server's.
//
//   RouteMatch m = match_socket_route("/v1/credentials/redis?after=4");
//   // m.route == SocketRoute::credential, m.name == "redis", m.query == "after=4"
//   Outcome o = routes.handle(request, m);
//
// Not thread-safe: runs on the io_context's thread, like the backend.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "http_server.hpp"
#include "tokenwell/agent/api/backend.hpp"
#include "tokenwell/agent/common/result.hpp"

namespace tw::api {

enum class SocketRoute { credentials, credential, jwks, keyset_refresh, keyset_sign, healthz, readyz, unknown };

struct RouteMatch {
  SocketRoute route = SocketRoute::unknown;
  std::string_view name;   // credential or keyset; empty when the route has none
  std::string_view query;  // after '?', possibly empty
};

RouteMatch match_socket_route(std::string_view target);

// The route's template, the `path` label of tokenwell_socket_requests_total:
// "/v1/credentials/{name}", never the raw path, so the label set is bounded.
std::string_view route_label(SocketRoute route);

// The query of `GET /v1/credentials/NAME`: `after` and `wait` (seconds), each
// at most once, decimal; `wait` only with `after`.
struct LongPollQuery {
  std::optional<std::uint64_t> after;
  std::optional<std::uint64_t> wait_seconds;
};
Result<LongPollQuery> parse_long_poll_query(std::string_view query);

// The query of `POST /v1/keysets/NAME/sign`: `ttl` (seconds) once, 1 to
// TOKENWELL_JWT_TTL_MAX; TOKENWELL_JWT_TTL_DEFAULT without it -- the limits
// of `tokenwell jwt sign --ttl` (tokenwell/jwt.h).
Result<std::int64_t> parse_sign_query(std::string_view query);

struct LongPollLimits {
  std::chrono::seconds default_wait{30};
  std::chrono::seconds max_wait{300};
};

class SocketRoutes {
 public:
  SocketRoutes(ApiBackend& backend, LongPollLimits limits);
  Outcome handle(const Request& request, const RouteMatch& match);

 private:
  Outcome credential(std::string_view name, std::string_view query);
  Response credential_answer(std::string_view name,
                             const ApiBackend::Lookup<ApiBackend::CredentialValue>& lookup);
  Response jwks(std::string_view name);
  Response keyset_refresh(std::string_view name);
  Response keyset_sign(std::string_view name, std::string_view query, const std::string& claims);

  ApiBackend& backend_;
  LongPollLimits limits_;
};

}  // namespace tw::api
