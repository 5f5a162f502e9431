// jose.hpp -- the C++ core of libtokenwell-jwt: strict base64url and JSON,
// JWKs as OpenSSL keys, and JWS/JWT sign and verify.
//
//   KeySet keys = KeySet::parse(jwks_json);           // throws Rejection
//   std::string claims = verify_jwt(keys, token, {.audience = "api"});
//   Key key = Key::parse_private(private_jwk_json);
//   std::string token = sign_jwt(key, R"({"sub":"alice"})", 300, now);
//
// Every failure is a Rejection carrying a TOKENWELL_JWT_* (or TOKENWELL_*)
// code; the C functions in c_api.cpp turn it into their return code, so no
// exception crosses the C boundary. Internal to the library (and its tests
// and fuzzer); not installed. Key and KeySet are immutable after parsing and
// safe to share between threads.
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
};
[[noreturn]] void reject(int code);

// Unpadded base64url, RFC 4648 section 5.
std::string base64url_encode(std::string_view bytes);
// Canonical unpadded base64url only: no '=', no characters outside the
// alphabet, no non-zero trailing bits. nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

// Parses a JSON object, rejecting duplicate member names at any depth
// (EDUPLICATE), nesting beyond TOKENWELL_JWT_DEPTH_MAX or text over
// TOKENWELL_JWT_JSON_MAX (ETOOLARGE), and anything but an object (EJSON).
nlohmann::json parse_object(std::string_view text);

enum class Alg { HS256, RS256, PS256, ES256, EdDSA };
// "none" (any case) -> EALG_NONE; unknown -> EALG_UNKNOWN. "Ed25519" = EdDSA.
Alg alg_from_name(std::string_view name);
std::string_view alg_name(Alg alg);

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// One JWK. A key allows exactly one algorithm: its "alg", else the one its
// kty/crv implies (RSA: RS256, EC P-256: ES256, OKP Ed25519: EdDSA, oct: HS256).
class Key {
 public:
  // A signing key: RSA/EC/OKP with "d", or oct with "k". Throws Rejection.
  static Key parse_private(std::string_view jwk_json);
  // A key from a parsed JWK object, public members suffice (oct: "k").
  static Key from_json(const nlohmann::json& jwk, bool need_private);

  Key() = default;
  Key(Key&&) noexcept = default;
  Key& operator=(Key&&) noexcept = default;
  ~Key() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

  Alg alg() const { return alg_; }
  const std::optional<std::string>& kid() const { return kid_; }
  bool symmetric() const { return alg_ == Alg::HS256; }

  std::string sign(std::string_view signing_input) const;
  // Throws ESIG_FORMAT or ESIGNATURE.
  void verify(std::string_view signing_input, std::string_view signature) const;

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
// returns its payload bytes. No claim is looked at: for JWS whose payload is
// not a JWT (the RFC 7520 and 8037 examples).
std::string verify_jws(const KeySet& keys, std::string_view token);

// verify_jws, then the payload as JWT claims: exp required, nbf/iat, iss/aud
// when asked. Returns the payload JSON text as signed.
std::string verify_jwt(const KeySet& keys, std::string_view token, const VerifyOptions& options);

// Header {"alg","kid","typ":"JWT"}; adds iat = now and exp = now + ttl unless
// present (EINVAL when exp is absent and ttl <= 0).
std::string sign_jwt(const Key& key, std::string_view claims_json, std::int64_t ttl_seconds,
                     std::int64_t now);

std::int64_t real_now();

}  // namespace tw::jose
