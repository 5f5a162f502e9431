// socket_routes.cpp -- see socket_routes.hpp.
#include "socket_routes.hpp"

#include <string.h>

#include <algorithm>
#include <charconv>
#include <string>

#include <boost/beast/http/field.hpp>

#include "responses.hpp"
#include "tokenwell/agent/common/entry_name.hpp"
#include "tokenwell/jwt.h"

namespace tw::api {
namespace {

using Lookup = ApiBackend::Lookup<ApiBackend::CredentialValue>;

constexpr std::string_view kCredentialsPrefix = "/v1/credentials/";
constexpr std::string_view kKeysetsPrefix = "/v1/keysets/";

bool newer_than(const Lookup& lookup, std::uint64_t after) {
  const auto* value = std::get_if<ApiBackend::CredentialValue>(&lookup);
  return value != nullptr && value->generation > after;
}

bool unknown(const Lookup& lookup) {
  const auto* missing = std::get_if<ApiBackend::Missing>(&lookup);
  return missing != nullptr && *missing == ApiBackend::Missing::unknown_name;
}

Response missing_answer(ApiBackend::Missing missing, std::string_view name) {
  if (missing == ApiBackend::Missing::unknown_name)
    return json_error(http::status::not_found, "unknown name", {{"name", name}});
  return json_error(http::status::service_unavailable, "no valid value", {{"name", name}});
}

// The one way a secret enters a response: under "token" in a 200 that is
// not cached; the JSON's copy is wiped once serialized.
Response token_response(nlohmann::ordered_json body) {
  Response r = json_response(http::status::ok, body);
  std::string& copy = body["token"].get_ref<std::string&>();
  explicit_bzero(copy.data(), copy.size());
  r.set(http::field::cache_control, "no-store");
  return r;
}

Result<std::uint64_t> parse_unsigned(std::string_view key, std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return make_error(std::string(key) + ": not an unsigned decimal integer");
  return value;
}

}  // namespace

RouteMatch match_socket_route(std::string_view target) {
  RouteMatch m;
  const std::size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos) m.query = target.substr(q + 1);

  if (path == "/v1/credentials") {
    m.route = SocketRoute::credentials;
  } else if (path == "/healthz") {
    m.route = SocketRoute::healthz;
  } else if (path == "/readyz") {
    m.route = SocketRoute::readyz;
  } else if (path.starts_with(kCredentialsPrefix)) {
    const std::string_view name = path.substr(kCredentialsPrefix.size());
    if (!name.empty() && name.find('/') == std::string_view::npos) {
      m.route = SocketRoute::credential;
      m.name = name;
    }
  } else if (path.starts_with(kKeysetsPrefix)) {
    const std::string_view rest = path.substr(kKeysetsPrefix.size());
    const std::size_t slash = rest.find('/');
    const std::string_view name = rest.substr(0, slash);
    const std::string_view action =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (!name.empty() && action == "jwks") m.route = SocketRoute::jwks;
    if (!name.empty() && action == "refresh") m.route = SocketRoute::keyset_refresh;
    if (!name.empty() && action == "sign") m.route = SocketRoute::keyset_sign;
    if (m.route != SocketRoute::unknown) m.name = name;
  }
  if (m.route == SocketRoute::unknown) m.query = {};
  return m;
}

std::string_view route_label(SocketRoute route) {
  switch (route) {
    case SocketRoute::credentials: return "/v1/credentials";
    case SocketRoute::credential: return "/v1/credentials/{name}";
    case SocketRoute::jwks: return "/v1/keysets/{name}/jwks";
    case SocketRoute::keyset_refresh: return "/v1/keysets/{name}/refresh";
    case SocketRoute::keyset_sign: return "/v1/keysets/{name}/sign";
    case SocketRoute::healthz: return "/healthz";
    case SocketRoute::readyz: return "/readyz";
    case SocketRoute::unknown: break;
  }
  return "other";
}

Result<LongPollQuery> parse_long_poll_query(std::string_view query) {
  LongPollQuery out;
  if (query.empty()) return out;
  for (std::size_t start = 0;;) {
    const std::size_t amp = query.find('&', start);
    const std::string_view param =
        query.substr(start, amp == std::string_view::npos ? amp : amp - start);
    const std::size_t eq = param.find('=');
    if (eq == std::string_view::npos) return make_error("expected name=value parameters");
    const std::string_view key = param.substr(0, eq);
    std::optional<std::uint64_t>* slot = key == "after"  ? &out.after
                                         : key == "wait" ? &out.wait_seconds
                                                         : nullptr;
    if (slot == nullptr) return make_error("unknown parameter (expected after, wait)");
    if (slot->has_value()) return make_error(std::string(key) + ": given twice");
    auto value = parse_unsigned(key, param.substr(eq + 1));
    if (!value) return value.error();
    *slot = *value;
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  if (out.wait_seconds && !out.after) return make_error("wait: needs after");
  return out;
}

Result<std::int64_t> parse_sign_query(std::string_view query) {
  if (query.empty()) return std::int64_t{TOKENWELL_JWT_TTL_DEFAULT};
  const std::size_t eq = query.find('=');
  if (eq == std::string_view::npos || query.substr(0, eq) != "ttl")
    return make_error("expected ttl=SECONDS and nothing else");
  auto ttl = parse_unsigned("ttl", query.substr(eq + 1));
  if (!ttl) return ttl.error();
  if (*ttl < 1 || *ttl > static_cast<std::uint64_t>(TOKENWELL_JWT_TTL_MAX))
    return make_error("ttl: must be 1 to " + std::to_string(TOKENWELL_JWT_TTL_MAX) + " seconds");
  return static_cast<std::int64_t>(*ttl);
}

SocketRoutes::SocketRoutes(ApiBackend& backend, LongPollLimits limits)
    : backend_(backend), limits_(limits) {}

Outcome SocketRoutes::handle(const Request& request, const RouteMatch& m) {
  if (m.route == SocketRoute::unknown) return json_error(http::status::not_found, "not found");

  const bool post_route = m.route == SocketRoute::keyset_refresh || m.route == SocketRoute::keyset_sign;
  const http::verb expected = post_route ? http::verb::post : http::verb::get;
  if (request.method() != expected) return method_not_allowed(post_route ? "POST" : "GET");

  if (m.route != SocketRoute::credential && m.route != SocketRoute::keyset_sign && !m.query.empty())
    return json_error(http::status::bad_request, "bad query: this path takes no parameters");

  // Names are [A-Za-z0-9._-]: anything else cannot exist (and is not echoed).
  if (!m.name.empty() && !valid_entry_name(m.name))
    return json_error(http::status::not_found, "unknown name");

  switch (m.route) {
    case SocketRoute::credentials: {
      auto list = nlohmann::ordered_json::array();
      for (const ApiBackend::Entry& e : backend_.entries()) {
        list.push_back({{"name", e.name},
                        {"kind", e.kind == ApiBackend::Kind::credential ? "credential" : "keyset"},
                        {"username", e.username},
                        {"state", e.state == ApiBackend::State::valid     ? "valid"
                                  : e.state == ApiBackend::State::expired ? "expired"
                                                                          : "pending"},
                        {"expires_at", e.expires_at},
                        {"generation", e.generation},
                        {"source", e.source},
                        {"last_refresh", e.last_refresh},
                        {"last_error", e.last_error},
                        {"consecutive_failures", e.consecutive_failures},
                        {"next_attempt", e.next_attempt}});
      }
      return json_response(http::status::ok, list);
    }
    case SocketRoute::credential: return credential(m.name, m.query);
    case SocketRoute::jwks: return jwks(m.name);
    case SocketRoute::keyset_refresh: return keyset_refresh(m.name);
    case SocketRoute::keyset_sign: return keyset_sign(m.name, m.query, request.body());
    case SocketRoute::healthz: return health_response();
    case SocketRoute::readyz: return readiness_response(backend_.readiness());
    case SocketRoute::unknown: break;
  }
  return json_error(http::status::not_found, "not found");
}

Outcome SocketRoutes::credential(std::string_view name, std::string_view query) {
  auto q = parse_long_poll_query(query);
  if (!q) return json_error(http::status::bad_request, "bad query: " + q.error().message);

  Lookup lookup = backend_.credential(name);
  if (!q->after || unknown(lookup) || newer_than(lookup, *q->after))
    return credential_answer(name, lookup);

  std::chrono::seconds wait = limits_.default_wait;
  if (q->wait_seconds) {
    const auto cap = static_cast<std::uint64_t>(limits_.max_wait.count());
    wait = std::chrono::seconds(static_cast<std::int64_t>(std::min(*q->wait_seconds, cap)));
  }
  wait = std::min(wait, limits_.max_wait);
  if (wait.count() == 0) return credential_answer(name, lookup);

  // Held until a newer generation is published (or the name goes away),
  // answered with whatever is current when the wait runs out.
  const std::uint64_t after = *q->after;
  return Deferred{
      .wait = wait,
      .ready = [this, name = std::string(name), after]() -> std::optional<Response> {
        Lookup now = backend_.credential(name);
        if (unknown(now) || newer_than(now, after)) return credential_answer(name, now);
        return std::nullopt;
      },
      .settle = [this, name = std::string(name)] {
        return credential_answer(name, backend_.credential(name));
      }};
}

Response SocketRoutes::credential_answer(std::string_view name, const Lookup& lookup) {
  if (const auto* missing = std::get_if<ApiBackend::Missing>(&lookup))
    return missing_answer(*missing, name);
  const auto& value = std::get<ApiBackend::CredentialValue>(lookup);
  // The same fields as `tokenwell get --json`.
  return token_response({{"name", name},
                         {"username", value.username},
                         {"token", value.token.reveal()},
                         {"expires_at", value.expires_at},
                         {"generation", value.generation}});
}

Response SocketRoutes::jwks(std::string_view name) {
  ApiBackend::Lookup<std::string> lookup = backend_.jwks(name);
  if (const auto* missing = std::get_if<ApiBackend::Missing>(&lookup))
    return missing_answer(*missing, name);
  Response r{http::status::ok, 11};
  r.set(http::field::content_type, "application/json");
  r.body() = std::move(std::get<std::string>(lookup));
  return r;
}

Response SocketRoutes::keyset_refresh(std::string_view name) {
  const ApiBackend::RefreshReply reply = backend_.request_keyset_refresh(name);
  switch (reply.answer) {
    case ApiBackend::RefreshAnswer::accepted:
      return json_response(http::status::accepted, {{"status", "accepted"}, {"name", name}});
    case ApiBackend::RefreshAnswer::rate_limited: {
      const auto seconds = std::max<std::int64_t>(reply.retry_after.count(), 1);
      Response r = json_error(http::status::too_many_requests, "rate limited",
                              {{"name", name}, {"retry_after", seconds}});
      r.set(http::field::retry_after, std::to_string(seconds));
      return r;
    }
    case ApiBackend::RefreshAnswer::unknown_name: break;
  }
  return missing_answer(ApiBackend::Missing::unknown_name, name);
}

Response SocketRoutes::keyset_sign(std::string_view name, std::string_view query, const std::string& claims) {
  auto ttl = parse_sign_query(query);
  if (!ttl) return json_error(http::status::bad_request, "bad query: " + ttl.error().message);
  if (claims.empty())
    return json_error(http::status::bad_request, "claims: the body must be a JSON object, e.g. {\"sub\":\"alice\"}");
  ApiBackend::SignReply reply = backend_.sign(name, claims, *ttl);
  switch (reply.answer) {
    case ApiBackend::SignAnswer::signed_token: return token_response({{"token", reply.token.reveal()}});
    case ApiBackend::SignAnswer::unknown_name: return missing_answer(ApiBackend::Missing::unknown_name, name);
    case ApiBackend::SignAnswer::no_value: return missing_answer(ApiBackend::Missing::no_valid_value, name);
    case ApiBackend::SignAnswer::no_signing_key:
      return json_error(http::status::conflict, reply.error, {{"name", name}});
    case ApiBackend::SignAnswer::bad_claims:
      return json_error(http::status::bad_request, reply.error, {{"name", name}});
    case ApiBackend::SignAnswer::failed: break;
  }
  return json_error(http::status::internal_server_error, reply.error, {{"name", name}});
}

}  // namespace tw::api
