// jwt.hpp -- base64url and a reader for the claims of a compact JWS.
//
//   auto p = parse_jwt_payload(token.reveal());
//   if (!p) return fail(p.error());          // says what is wrong, not the token
//   if (p->exp && *p->exp <= now) ...
//   auto oid = p->string_claim("oid");
//
// parse_jwt_payload does not verify the signature: the agent only reads the
// claims of tokens it was just handed over TLS by the IdP, to check expiry and
// find the username. Its input is untrusted and it is fuzzed
// (tests/fuzz/fuzz_jwt_payload.cpp). Thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/result.hpp"

namespace tw {

// Unpadded base64url (RFC 4648 section 5), as JOSE uses it.
std::string base64url_encode(std::string_view bytes);
// Accepts unpadded input only; fails on any character outside the alphabet.
std::optional<std::string> base64url_decode(std::string_view text);
// Standard padded base64 (x5c entries).
std::string base64_encode(std::string_view bytes);

struct JwtPayload {
  nlohmann::json header;  // the JOSE header object
  nlohmann::json claims;  // the payload object
  std::optional<std::int64_t> exp;  // NumericDate claims, when present
  std::optional<std::int64_t> nbf;
  std::optional<std::int64_t> iat;

  // The claim `name` when it is a non-empty string.
  std::optional<std::string> string_claim(std::string_view name) const;
};

// Splits a compact JWS (header.payload.signature), decodes header and
// payload as JSON objects and reads exp/nbf/iat (numbers when present).
Result<JwtPayload> parse_jwt_payload(std::string_view compact);

}  // namespace tw
