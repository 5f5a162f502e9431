// jose.hpp -- tokenwell's one JOSE module (tokenwell::jose, a static C++
// library under client-shim/ used by libtokenwell-jwt and by the agent):
// strict base64url and JSON, JWKs as OpenSSL keys with one algorithm set
// (ES256/384/512, RS256/384/512, PS256/384/512, EdDSA; HS256/384/512 for
// symmetric keys: kAlgorithms), JWS/JWT sign and
// verify, and reading a JWT's claims without verifying it.
//
//   KeySet keys = KeySet::parse(jwks_json);           // throws Rejection
//   std::string claims = verify_jwt(keys, token, {.audience = "api"});
//   Key key = Key::parse_private(private_jwk_json);
//   std::string token = sign_jwt(key, R"({"sub":"alice"})", 300, now);
//   Key fresh = Key::generate(Alg::ES256);             // public_jwk(), private_jwk()
//   JwtPayload p = parse_jwt_payload(access_token);    // no signature check
//
// Every failure is a Rejection carrying a TOKENWELL_JWT_* (or TOKENWELL_*)
// code and a detail naming what is wrong (a member, never key bytes or a
// token); libtokenwell-jwt's C functions turn it into their return code, so
// no exception crosses the C boundary, and the agent turns it into its
// Result. Not installed. Key and KeySet are immutable after parsing and safe
// to share between threads.
#pragma once

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenwell/jwt.h"

namespace tw::jose {

// Why a token, key or argument was refused: a TOKENWELL_JWT_* / TOKENWELL_*
// code. Its text is tokenwell_jwt_strerror(code); nothing secret is carried.
struct Rejection {
  int code;
  std::string detail;  // what is wrong, e.g. "crv: 'P-384' is not P-256"; may be empty
};
[[noreturn]] void reject(int code, std::string detail = {});

// Unpadded base64url, RFC 4648 section 5.
std::string base64url_encode(std::string_view bytes);
// Padded standard base64, RFC 4648 section 4 (x5c certificates).
std::string base64_encode(std::string_view bytes);
// Canonical unpadded base64url only: no '=', no characters outside the
// alphabet, no non-zero trailing bits. nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

// Parses a JSON object, rejecting duplicate member names at any depth
// (EDUPLICATE), nesting beyond TOKENWELL_JWT_DEPTH_MAX or text over
// TOKENWELL_JWT_JSON_MAX (ETOOLARGE), and anything but an object (EJSON).
nlohmann::json parse_object(std::string_view text, std::size_t max_bytes = TOKENWELL_JWT_JSON_MAX);

enum class Alg { HS256, RS256, PS256, ES256, EdDSA, HS384, HS512, RS384, RS512, PS384, PS512, ES384, ES512 };
// Every algorithm the library signs and verifies, in the order error
// messages list them: the one list (the agent's config accepts these names).
inline constexpr Alg kAlgorithms[] = {Alg::ES256, Alg::ES384, Alg::ES512, Alg::RS256, Alg::RS384,
                                      Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512, Alg::EdDSA,
                                      Alg::HS256, Alg::HS384, Alg::HS512};
// "none" (any case) -> EALG_NONE; unknown -> EALG_UNKNOWN. "Ed25519" = EdDSA.
Alg alg_from_name(std::string_view name);
std::string_view alg_name(Alg alg);
// "ES256, ES384, ..., HS512": kAlgorithms for messages.
std::string supported_algorithms();

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// One JWK. A key allows exactly one algorithm: its "alg", else the one its
// kty/crv implies (RSA: RS256, EC P-256/P-384/P-521: ES256/ES384/ES512, OKP
// Ed25519: EdDSA, oct: HS256).
// The checks, with the detail each rejection names: kty, crv and alg agree;
// "use", when present, is "sig"; members are canonical base64url of the
// curve's size; RSA keys have 2048 to 16384 bits; EC points lie on the curve;
// an Ed25519 "d" belongs to its "x".
class Key {
 public:
  // A signing key: RSA/EC/OKP with "d", or oct with "k". Throws Rejection.
  static Key parse_private(std::string_view jwk_json);
  // A key from a parsed JWK object, public members suffice (oct: "k").
  static Key from_json(const nlohmann::json& jwk, bool need_private);
  // A new key pair (ES256/384/512: P-256/384/521, RS*/PS*: RSA 2048, EdDSA: Ed25519).
  static Key generate(Alg alg);
  // A PEM private key (PKCS#8, traditional RSA/EC) or SubjectPublicKeyInfo;
  // its algorithm is the one its type implies. Encrypted keys are refused.
  static Key from_pem(std::string_view pem);
  // An OpenSSL key (its reference is taken) used with `alg`.
  static Key from_pkey(EVP_PKEY* pkey, Alg alg, std::optional<std::string> kid = std::nullopt);

  Key() = default;
  Key(Key&&) noexcept = default;
  Key& operator=(Key&&) noexcept = default;
  ~Key() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

  Alg alg() const { return alg_; }
  const std::optional<std::string>& kid() const { return kid_; }
  bool symmetric() const { return alg_ == Alg::HS256 || alg_ == Alg::HS384 || alg_ == Alg::HS512; }

  bool has_private() const;

  std::string sign(std::string_view signing_input) const;
  // Throws ESIG_FORMAT or ESIGNATURE.
  void verify(std::string_view signing_input, std::string_view signature) const;

  // The public JWK (kty's members, then "kid" when the key has one, "alg",
  // "use": "sig"), as exported from the key itself. Asymmetric keys only.
  nlohmann::json public_jwk() const;
  // The same with the private members; the caller wipes it. Signing keys only.
  std::string private_jwk_json() const;
  Key with_kid(std::string kid) const;

 private:
  Alg alg_ = Alg::HS256;
  std::optional<std::string> kid_;
  PkeyPtr pkey_;        // asymmetric keys
  std::string secret_;  // oct keys
};

// The keys a verifier trusts: a JWKS {"keys":[...]} or a single JWK. Keys of
// an unknown kty, or with "use" other than "sig", are skipped; a known key
// that cannot be used (too small, invalid) is kept with the code that says
// why, so a token naming it gets that code.
class KeySet {
 public:
  static KeySet parse(std::string_view jwks_json);
  void add(Key key) {
    std::optional<std::string> kid = key.kid();
    entries_.push_back({std::move(key), 0, std::move(kid)});
  }

  // The key for a token's header; throws EKID_UNKNOWN, EKID_MISSING,
  // EALG_KEY, EKEY or the code a matching unusable key was kept with.
  std::vector<const Key*> candidates(const std::optional<std::string>& kid, Alg alg) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::optional<Key> key;  // empty when unusable
    int status;              // 0, or why the key cannot be used
    std::optional<std::string> kid;
  };
  std::vector<Entry> entries_;
};

struct VerifyOptions {
  const char* audience = nullptr;
  const char* issuer = nullptr;
  std::int64_t leeway = TOKENWELL_JWT_DEFAULT_LEEWAY;
  std::int64_t now = 0;  // unix seconds; 0: the real clock
};

// Verifies a compact JWS (RFC 7515 + RFC 8725 checks on the header) and
// returns its payload bytes, which may be empty. No claim is looked at: for
// JWS whose payload is not a JWT (the RFC 7520 and 8037 examples).
std::string verify_jws(const KeySet& keys, std::string_view token);

// verify_jws, then the payload as JWT claims (an empty payload is
// EMALFORMED: no JWT): exp required, nbf/iat, iss/aud
// when asked. Returns the payload JSON text as signed.
std::string verify_jwt(const KeySet& keys, std::string_view token, const VerifyOptions& options);

// Header {"alg","kid","typ":"JWT"}; adds iat = now and exp = now + ttl unless
// present (EINVAL when exp is absent and ttl <= 0).
std::string sign_jwt(const Key& key, std::string_view claims_json, std::int64_t ttl_seconds,
                     std::int64_t now);

std::int64_t real_now();

// The JWK Thumbprint (RFC 7638: base64url SHA-256 of the required members)
// of a public JWK.
std::string thumbprint(const nlohmann::json& public_jwk);

// A compact JWS of `payload` under `header`, whose "alg" (and "kid", when the
// key has one and the header none) the key sets.
std::string sign_jws(const Key& key, nlohmann::ordered_json header, std::string_view payload);

// The claims of a compact JWS read without verifying its signature: for a
// token just handed over TLS by an IdP, to check expiry and find a username.
// Header and payload must be JSON objects (duplicate members refused) and
// the header must name an alg; exp/nbf/iat must be numbers in range.
struct JwtPayload {
  nlohmann::json header;
  nlohmann::json claims;
  std::optional<std::int64_t> exp;
  std::optional<std::int64_t> nbf;
  std::optional<std::int64_t> iat;
  // The claim `name` when it is a non-empty string.
  std::optional<std::string> string_claim(std::string_view name) const;
};
struct PayloadLimits {
  std::size_t max_token_bytes = TOKENWELL_JWT_TOKEN_MAX;
  std::size_t max_json_bytes = TOKENWELL_JWT_JSON_MAX;
};
JwtPayload parse_jwt_payload(std::string_view compact, PayloadLimits limits = {});

}  // namespace tw::jose
