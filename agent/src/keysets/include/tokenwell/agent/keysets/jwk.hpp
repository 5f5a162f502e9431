// jwk.hpp -- JSON Web Keys for the agent's keysets: making keys, reading PEM
// and JWK files, reading JWKS and OIDC discovery documents from an IdP, and
// writing the JWKS a keyset publishes (RFC 7517, 7518, 8037). The keys
// themselves -- parsing, validation, one algorithm set, thumbprints -- are
// tokenwell::jose's (client-shim/jose), the module libtokenwell-jwt verifies
// with, so a key the agent publishes is a key every verifier accepts.
//
//   auto key = generate_jwk(KeyAlgorithm::ES256);     // kid = RFC 7638 thumbprint
//   auto doc = parse_jwks(response.body.reveal());    // unusable keys skipped, listed
//   std::string published = jwks_json({key->public_jwk});
//
// A Jwk's public_jwk holds only public members (kty, kid, alg, use, and n/e,
// crv/x/y or crv/x); private_jwk is the whole private key as one JWK object,
// a Secret, empty for verify-only keys. Error messages name the member that
// is wrong, never a key's bytes. parse_jwks / parse_discovery /
// cache_control_max_age read untrusted input and are fuzzed
// (tests/fuzz/fuzz_jwks.cpp). Thread-compatible.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/config/keyset_config.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"

namespace tw {

struct Jwk {
  std::string kid;
  std::string alg;
  nlohmann::json public_jwk;  // public members only
  Secret private_jwk;         // one private JWK object as JSON; empty = verify-only

  bool can_sign() const { return !private_jwk.empty(); }
};

// A new key pair for `algorithm` (P-256, RSA 2048, Ed25519); kid = its
// RFC 7638 thumbprint.
Result<Jwk> generate_jwk(KeyAlgorithm algorithm);

// The same key under another kid (public and private parts).
Jwk with_kid(const Jwk& key, std::string kid);

// A PEM private key (PKCS#8, or traditional RSA / EC) or public key
// (SubjectPublicKeyInfo): EC P-256 -> ES256, RSA >= 2048 bits -> RS256,
// Ed25519 -> EdDSA. kid = thumbprint.
Result<Jwk> jwk_from_pem(std::string_view pem);

// One JWK object (public, or private with its private members), checked by
// jose::Key::from_json: kty, crv and alg agree (ES256 on P-256, RS256/PS256
// on RSA of 2048 to 16384 bits, EdDSA on Ed25519), use is "sig" if present,
// members are canonical base64url of the right size. A missing alg is
// inferred, a missing kid is the thumbprint. Symmetric keys (kty oct) are
// refused: they cannot be published.
Result<Jwk> parse_jwk(const nlohmann::json& j);

// The JWT of `claims_json` signed with `private_jwk` by jose::sign_jwt, the
// one signer (libtokenwell-jwt's tokenwell_jwt_sign is the same): header
// alg, kid, typ; iat = now and exp = now + ttl_seconds unless the claims
// have them. The claims must be one JSON object, no member twice, at most
// TOKENWELL_JWT_DEPTH_MAX levels. A failure names what is wrong with the
// claims (claims_error) or the key, never their content.
struct JwtSignFailure {
  bool claims_error = false;
  std::string message;
};
std::variant<Secret, JwtSignFailure> sign_jwt(std::string_view private_jwk, std::string_view claims_json,
                                              std::int64_t ttl_seconds, std::int64_t now);

// RFC 7638 thumbprint (base64url SHA-256) of a public JWK.
std::string jwk_thumbprint(const nlohmann::json& public_jwk);

struct JwksDocument {
  std::vector<Jwk> keys;             // usable keys, first of each kid kept
  std::vector<std::string> skipped;  // why each other key was skipped, "keys[2]: ..."
};

// A JWKS document `{"keys": [...]}`. Fails when it is not one, or when no key
// in it is usable.
Result<JwksDocument> parse_jwks(std::string_view body);

// The `jwks_uri` of an OpenID Provider configuration document. Its `issuer`
// must equal `issuer` (OpenID Connect Discovery 1.0, section 4.3) and the
// jwks_uri must be https.
Result<std::string> parse_discovery(std::string_view body, std::string_view issuer);

// max-age of a Cache-Control header value (0 for no-cache / no-store), or
// nullopt when it says nothing about freshness.
std::optional<std::chrono::seconds> cache_control_max_age(std::string_view value);

// `{"keys":[...]}` with these public JWKs, in order.
std::string jwks_json(const std::vector<nlohmann::json>& public_jwks);

}  // namespace tw
