// token_response.hpp -- reading what an OAuth2 token endpoint or a managed
// identity endpoint answers, and turning a token into a validated FetchedCredential.
//
//   auto r = parse_token_response(http_response.body.reveal());
//   if (!r) return fail("bad token response: " + r.error().message);
//   auto c = validate_token_response(std::move(*r), {.claim = "oid"}, clock.unix_seconds());
//
//   // On an HTTP error: "HTTP 401 invalid_client: AADSTS7000215: Invalid ..."
//   std::string why = describe_error_response(status, body);
//   auto wait = parse_retry_after("120", clock.now());    // 120 s
//
// All inputs here are untrusted: every parser returns an error naming the
// field, never the token or the body, and is fuzzed
// (tests/fuzz/fuzz_token_response.cpp). Thread-compatible.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"
#include "tokenwell/agent/config/entra_config.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/refresh/source.hpp"
#include "tokenwell/jose/jose.hpp"

namespace tw {

// A successful response. Entra's v2.0 endpoint sends numbers; IMDS and App
// Service send decimal strings; both are accepted for the time fields.
struct TokenResponse {
  Secret access_token;
  std::string token_type;                   // "Bearer"
  std::optional<std::int64_t> expires_in;   // seconds from now
  std::optional<std::int64_t> expires_on;   // unix seconds (managed identity)
  std::optional<std::int64_t> ext_expires_in;
  std::optional<std::int64_t> refresh_in;   // seconds from now
};

// Requires access_token, token_type Bearer and expires_in or expires_on.
Result<TokenResponse> parse_token_response(std::string_view body);

// An OAuth2 error response (RFC 6749 5.2, plus Entra's error_codes).
struct TokenErrorResponse {
  std::string error;              // e.g. "invalid_client"
  std::string description;        // as received: may echo the request, scrub before showing it
  std::vector<std::int64_t> error_codes;  // AADSTS numbers
};
std::optional<TokenErrorResponse> parse_token_error(std::string_view body);

// One line for a non-2xx response: "HTTP 401 invalid_client: AADSTS7000215: …"
// or "HTTP 502 (no OAuth2 error in a 1234-byte body)". Never echoes a body:
// the error code (at most kMaxErrorCodeBytes), the first AADSTS number, and
// at most kMaxDescriptionBytes of the description, each passed through
// scrubbed_excerpt() (common/redaction.hpp) with the `redact` secrets -- what
// the agent sent -- so no form or piece of them is left.
inline constexpr std::size_t kMaxErrorCodeBytes = 64;
inline constexpr std::size_t kMaxDescriptionBytes = 200;
std::string describe_error_response(int status, std::string_view body,
                                    const std::vector<std::string_view>& redact = {});


// The claims of an access token or a federated token, read without checking
// the signature (tokenwell::jose's reader, with the agent's size limits):
// exp/nbf/iat and the username claim. Errors say what is wrong, never the
// token. Fuzzed (tests/fuzz/fuzz_jwt_payload.cpp).
Result<jose::JwtPayload> parse_jwt_payload(std::string_view token);

struct TokenChecks {
  // How far the token's exp may disagree with expires_in / expires_on
  // (IdP clock against ours) before the token is refused.
  std::chrono::seconds expiry_tolerance{300};
};

// Checks the access token before anything publishes it: it is a JWT, its exp
// is in the future and agrees with the response, nbf is not ahead, the
// username claim exists. expires_at is the earlier of exp and the response's
// lifetime; issued_at is `now`.
Result<FetchedCredential> validate_token_response(TokenResponse response, const UsernameSpec& username,
                                           std::int64_t now_unix, TokenChecks checks = {});

}  // namespace tw
