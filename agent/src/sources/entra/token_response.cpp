// token_response.cpp -- token endpoint / managed identity responses,
// and the checks a token passes before it is published.
#include "tokenwell/agent/sources/entra/token_response.hpp"

#include <string.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/credential_text.hpp"
#include "tokenwell/agent/common/redaction.hpp"

namespace tw {
namespace {

using nlohmann::json;

constexpr std::int64_t kMaxSeconds = 10LL * 366 * 24 * 3600;  // ten years
constexpr std::int64_t kMaxUnixSeconds = 1LL << 40;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A non-negative integer field that may arrive as a JSON number or as a
// decimal string (IMDS). Absent is fine; anything else is an error.
Result<std::optional<std::int64_t>> seconds_field(const json& j, const char* name, std::int64_t max) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return std::optional<std::int64_t>{};
  std::int64_t v = 0;
  if (it->is_number_unsigned()) {
    const auto u = it->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(max)) return make_error(std::string(name) + ": out of range");
    v = static_cast<std::int64_t>(u);
  } else if (it->is_number_integer()) {
    v = it->get<std::int64_t>();
  } else if (it->is_number_float()) {
    const double d = it->get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > static_cast<double>(max))
      return make_error(std::string(name) + ": expected a whole number of seconds");
    v = static_cast<std::int64_t>(d);
  } else if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (!all_digits(s) || s.size() > 15) return make_error(std::string(name) + ": expected decimal digits");
    v = std::strtoll(s.c_str(), nullptr, 10);
  } else {
    return make_error(std::string(name) + ": expected a number, got " + it->type_name());
  }
  if (v < 0 || v > max) return make_error(std::string(name) + ": out of range");
  return std::optional<std::int64_t>{v};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Printable one-line text: control characters become spaces, runs collapse.
std::string fold(std::string_view text, std::size_t cap) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= cap) {
      out += "...";
      break;
    }
    const bool space = c < 0x20 || c == 0x7f;
    if (space) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string quote_claim(std::string_view claim) { return "'" + fold(claim, 64) + "'"; }

}  // namespace

Result<TokenResponse> parse_token_response(std::string_view body) {
  auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return make_error("response is not JSON");
  if (!j.is_object()) return make_error("response is not a JSON object");

  TokenResponse out;
  const auto token = j.find("access_token");
  if (token == j.end()) return make_error("access_token: missing");
  if (!token->is_string()) return make_error(std::string("access_token: expected a string, got ") + token->type_name());
  if (token->get_ref<const std::string&>().empty()) return make_error("access_token: empty");

  const auto type = j.find("token_type");
  if (type == j.end()) return make_error("token_type: missing");
  if (!type->is_string()) return make_error(std::string("token_type: expected a string, got ") + type->type_name());
  if (!iequals(type->get_ref<const std::string&>(), "Bearer"))
    return make_error("token_type: expected Bearer, got '" + fold(type->get_ref<const std::string&>(), 32) + "'");
  out.token_type = "Bearer";

  auto expires_in = seconds_field(j, "expires_in", kMaxSeconds);
  if (!expires_in) return expires_in.error();
  auto expires_on = seconds_field(j, "expires_on", kMaxUnixSeconds);
  if (!expires_on) return expires_on.error();
  auto ext = seconds_field(j, "ext_expires_in", kMaxSeconds);
  if (!ext) return ext.error();
  auto refresh_in = seconds_field(j, "refresh_in", kMaxSeconds);
  if (!refresh_in) return refresh_in.error();
  if (!*expires_in && !*expires_on) return make_error("expires_in: missing (and no expires_on)");
  out.expires_in = *expires_in;
  out.expires_on = *expires_on;
  out.ext_expires_in = *ext;
  out.refresh_in = *refresh_in;
  auto& text = token->get_ref<std::string&>();
  out.access_token = Secret(text);
  explicit_bzero(text.data(), text.size());  // the parsed document's copy
  return out;
}

std::optional<TokenErrorResponse> parse_token_error(std::string_view body) {
  auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  TokenErrorResponse out;
  const auto error = j.find("error");
  if (error == j.end() || !error->is_string()) {
    // App Service's identity endpoint: {"statusCode": 400, "message": "..."}
    const auto message = j.find("message");
    if (message == j.end() || !message->is_string()) return std::nullopt;
    out.description = message->get_ref<const std::string&>();
    return out;
  }
  out.error = error->get_ref<const std::string&>();
  if (const auto d = j.find("error_description"); d != j.end() && d->is_string())
    out.description = d->get_ref<const std::string&>();
  if (const auto codes = j.find("error_codes"); codes != j.end() && codes->is_array()) {
    for (const auto& c : *codes) {
      if (c.is_number_integer() && out.error_codes.size() < 16) out.error_codes.push_back(c.get<std::int64_t>());
    }
  }
  return out;
}

std::string describe_error_response(int status, std::string_view body,
                                    const std::vector<std::string_view>& redact) {
  std::string out = "HTTP " + std::to_string(status);
  const auto e = parse_token_error(body);
  if (!e) return out + " (no OAuth2 error in a " + std::to_string(body.size()) + "-byte body)";
  // The error code and the AADSTS number say what is wrong; the description
  // only adds context, and it may echo what the agent sent: scrubbed, then cut.
  if (!e->error.empty()) out += " " + scrubbed_excerpt(e->error, kMaxErrorCodeBytes, redact);
  std::string description = scrubbed_excerpt(e->description, kMaxDescriptionBytes, redact);
  if (!e->error_codes.empty()) {
    const std::string aadsts = "AADSTS" + std::to_string(e->error_codes.front());
    if (description.rfind(aadsts, 0) != 0) description = description.empty() ? aadsts : aadsts + ": " + description;
  }
  if (!description.empty()) out += ": " + description;
  return out;
}

Result<jose::JwtPayload> parse_jwt_payload(std::string_view token) {
  // Access tokens with many group claims run to tens of kilobytes.
  constexpr std::size_t kMaxTokenBytes = 1 << 20;
  try {
    return jose::parse_jwt_payload(token, {.max_token_bytes = kMaxTokenBytes, .max_json_bytes = kMaxTokenBytes});
  } catch (const jose::Rejection& r) {
    return make_error(r.detail.empty() ? "not a readable JWT" : r.detail);
  }
}

Result<FetchedCredential> validate_token_response(TokenResponse response, const UsernameSpec& username,
                                           std::int64_t now, TokenChecks checks) {
  // What goes into the segment ends up in a Redis AUTH or an Authorization
  // header as is: only a bearer token's characters, in a JWT's shape.
  if (auto r = check_bearer_token(response.access_token.reveal()); !r)
    return make_error("access_token: " + r.error().message);
  auto payload = parse_jwt_payload(response.access_token.reveal());
  if (!payload) return make_error("access_token: " + payload.error().message);
  if (auto r = check_jwt_shape(response.access_token.reveal()); !r)
    return make_error("access_token: " + r.error().message);
  if (!payload->exp) return make_error("access_token: no exp claim");
  const std::int64_t exp = *payload->exp;
  if (exp <= now)
    return make_error("access_token: expired at " + std::to_string(exp) + " (now " + std::to_string(now) + ")");

  const std::int64_t answered_exp = response.expires_in ? now + *response.expires_in : *response.expires_on;
  const char* answered_by = response.expires_in ? "expires_in" : "expires_on";
  if (answered_exp <= now) return make_error(std::string(answered_by) + ": token already expired");
  const std::int64_t skew = exp > answered_exp ? exp - answered_exp : answered_exp - exp;
  if (skew > checks.expiry_tolerance.count())
    return make_error("access_token: exp " + std::to_string(exp) + " disagrees with " + answered_by + " (" +
                      std::to_string(answered_exp) + ") by " + std::to_string(skew) +
                      " s; is this host's clock off?");
  if (payload->nbf && *payload->nbf > now + checks.expiry_tolerance.count())
    return make_error("access_token: not valid before " + std::to_string(*payload->nbf) + " (now " +
                      std::to_string(now) + ")");

  FetchedCredential out;
  if (!username.value.empty()) {
    out.username = username.value;
  } else {
    auto claim = payload->string_claim(username.claim);
    if (!claim) return make_error("access_token: no string claim " + quote_claim(username.claim) + " for the username");
    // Refused, not cut: a username cut short fails every AUTH it is used in.
    if (auto r = check_username(*claim); !r)
      return make_error("access_token: claim " + quote_claim(username.claim) + " for the username: " + r.error().message);
    out.username = *claim;
  }
  out.issued_at = now;
  out.expires_at = std::min(exp, answered_exp);
  const std::int64_t lifetime = out.expires_at - now;
  if (response.refresh_in && *response.refresh_in > 0 && *response.refresh_in < lifetime)
    out.refresh_in = *response.refresh_in;
  out.token = std::move(response.access_token);
  return out;
}

}  // namespace tw
