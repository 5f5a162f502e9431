// c_api.cpp -- the C ABI of libtokenwell-jwt (tokenwell/jwt.h) over jose.hpp.
//
// Every function catches everything: a Rejection becomes its code, anything
// else (std::bad_alloc, a surprise from the JSON library) TOKENWELL_ENOMEM or
// TOKENWELL_JWT_EINTERNAL. Keys read from the segment live in buffers wiped
// before they are freed.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "tokenwell/jose/jose.hpp"
#include "tokenwell/jwt.h"

namespace {

using tw::jose::Rejection;

template <typename F>
int guarded(F&& body) noexcept {
  try {
    return body();
  } catch (const Rejection& r) {
    return r.code;
  } catch (const std::bad_alloc&) {
    return TOKENWELL_ENOMEM;
  } catch (...) {
    return TOKENWELL_JWT_EINTERNAL;
  }
}

// Copies text NUL-terminated into out, or ETOOSMALL with *len set.
int copy_out(const std::string& text, char* out, size_t size, size_t* len) {
  if (len != nullptr) *len = text.size();
  if (out == nullptr) return TOKENWELL_OK;
  if (text.size() >= size) {
    if (size != 0) out[0] = '\0';
    return TOKENWELL_ETOOSMALL;
  }
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return TOKENWELL_OK;
}

bool bad_buffer(const char* out, size_t size) { return out == nullptr && size != 0; }

tw::jose::VerifyOptions options_from(const tokenwell_jwt_verify_options* opts) {
  tw::jose::VerifyOptions o;
  if (opts == nullptr) return o;
  // Members are read only as far as the caller's struct_size reaches, so an
  // older caller's smaller struct stays valid when members are appended.
  const size_t have = opts->struct_size;
  if (have < offsetof(tokenwell_jwt_verify_options, audience) + sizeof(const char*))
    throw Rejection{TOKENWELL_EINVAL};
  o.audience = opts->audience;
  if (have >= offsetof(tokenwell_jwt_verify_options, issuer) + sizeof(const char*))
    o.issuer = opts->issuer;
  if (have >= offsetof(tokenwell_jwt_verify_options, leeway_seconds) + sizeof(int64_t))
    o.leeway = opts->leeway_seconds < 0 ? TOKENWELL_JWT_DEFAULT_LEEWAY : opts->leeway_seconds;
  if (have >= offsetof(tokenwell_jwt_verify_options, now) + sizeof(int64_t)) o.now = opts->now;
  return o;
}

// A keyset read from the segment in one snapshot. The private key's buffer
// is wiped when this goes away.
struct KeysetValue {
  std::string jwks;
  std::string key;
  ~KeysetValue() { OPENSSL_cleanse(key.data(), key.size()); }
};

KeysetValue read_keyset(const tokenwell* tw, const char* name) {
  KeysetValue v;
  v.jwks.assign(4096, '\0');
  v.key.assign(4096, '\0');
  for (int attempt = 0; attempt < 8; ++attempt) {
    tokenwell_entry e{};
    e.struct_size = sizeof e;
    e.public_data = v.jwks.data();
    e.public_size = v.jwks.size();
    e.secret = v.key.data();
    e.secret_size = v.key.size();
    const int rc = tokenwell_read_entry(tw, name, TOKENWELL_KIND_KEYSET, &e);
    if (rc == TOKENWELL_OK) {
      v.jwks.resize(e.public_len);
      OPENSSL_cleanse(v.key.data() + e.secret_len, v.key.size() - e.secret_len);
      v.key.resize(e.secret_len);
      return v;
    }
    if (rc != TOKENWELL_ETOOSMALL) throw Rejection{rc};
    // Nothing was copied, so growing moves no key bytes. The value may grow
    // again between reads: retry a few times.
    if (e.too_small & TOKENWELL_FIELD_PUBLIC) v.jwks.assign(e.public_len + 1, '\0');
    if (e.too_small & TOKENWELL_FIELD_SECRET) v.key.assign(e.secret_len + 1, '\0');
  }
  throw Rejection{TOKENWELL_EBUSY};
}

// The keys of keyset `value`: its public JWKS, and for HS256 its signing key
// (an HS256 keyset cannot publish its key, so the signing key verifies).
tw::jose::KeySet parse_keyset(const KeysetValue& value) {
  tw::jose::KeySet keys = tw::jose::KeySet::parse(value.jwks);
  if (!value.key.empty()) {
    bool oct = false;
    try {
      const auto jwk = tw::jose::parse_object(value.key);
      const auto kty = jwk.find("kty");
      oct = kty != jwk.end() && *kty == "oct";
    } catch (const Rejection&) {
      throw Rejection{TOKENWELL_JWT_EKEY};
    }
    if (oct) keys.add(tw::jose::Key::parse_private(value.key));
  }
  return keys;
}

// The parsed keys of the last keyset this thread verified with, by content:
// building a JWKS's keys costs more than checking a signature, and keysets
// change rarely. Keyed by the exact JWKS text and a SHA-256 of the signing
// key, so a rotation is seen on the very next call; no lock, no global state
// shared between threads.
std::shared_ptr<const tw::jose::KeySet> keys_for(const KeysetValue& value) {
  struct Cache {
    std::string jwks;
    unsigned char key_digest[EVP_MAX_MD_SIZE] = {};
    std::shared_ptr<const tw::jose::KeySet> keys;
  };
  thread_local Cache cache;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(value.key.data(), value.key.size(), digest, &digest_len, EVP_sha256(), nullptr) != 1 ||
      digest_len != 32)
    throw Rejection{TOKENWELL_JWT_EINTERNAL};
  if (cache.keys && cache.jwks == value.jwks && CRYPTO_memcmp(cache.key_digest, digest, 32) == 0)
    return cache.keys;
  auto keys = std::make_shared<const tw::jose::KeySet>(parse_keyset(value));
  cache.jwks = value.jwks;
  std::memcpy(cache.key_digest, digest, 32);
  cache.keys = keys;
  return keys;
}

}  // namespace

extern "C" {

const char* tokenwell_jwt_strerror(int code) {
  switch (code) {
    case TOKENWELL_JWT_EMALFORMED:
      return "token is not a compact JWS (header.payload.signature)";
    case TOKENWELL_JWT_EBASE64:
      return "token part is not canonical unpadded base64url";
    case TOKENWELL_JWT_EJSON:
      return "header or claims are not a JSON object";
    case TOKENWELL_JWT_EDUPLICATE:
      return "JSON member appears more than once";
    case TOKENWELL_JWT_ETOOLARGE:
      return "token or JSON too large or too deeply nested";
    case TOKENWELL_JWT_EALG_NONE:
      return "alg \"none\" (unsecured JWS) is never accepted";
    case TOKENWELL_JWT_EALG_UNKNOWN:
      return "alg missing or not supported (ES256, RS256, PS256, EdDSA, HS256)";
    case TOKENWELL_JWT_EALG_KEY:
      return "alg is not the algorithm the key allows";
    case TOKENWELL_JWT_EEMBEDDED_KEY:
      return "header embeds a key (jwk or x5c); keys come only from the keyset";
    case TOKENWELL_JWT_EKEY_URL:
      return "header points at keys (jku or x5u); keys are never fetched";
    case TOKENWELL_JWT_ECRIT:
      return "header crit names an extension that is not understood";
    case TOKENWELL_JWT_EKID_UNKNOWN:
      return "no key in the keyset has the token's kid";
    case TOKENWELL_JWT_EKID_MISSING:
      return "token has no kid and the keyset has more than one key";
    case TOKENWELL_JWT_ESIGNATURE:
      return "signature does not verify";
    case TOKENWELL_JWT_ESIG_FORMAT:
      return "signature has the wrong length or out-of-range values";
    case TOKENWELL_JWT_EWEAK_KEY:
      return "key too weak (RSA under 2048 bits, RSA exponent even or under 3, ROCA-fingerprinted RSA "
             "modulus, Ed25519 point of small order, HMAC under 256 bits)";
    case TOKENWELL_JWT_EKEY:
      return "key or keyset is invalid or has no usable key";
    case TOKENWELL_JWT_ENO_SIGNING_KEY:
      return "keyset has no signing key (verify only)";
    case TOKENWELL_JWT_EEXP_MISSING:
      return "token has no exp claim";
    case TOKENWELL_JWT_EEXPIRED:
      return "token expired";
    case TOKENWELL_JWT_ENOT_YET_VALID:
      return "token not valid yet (nbf)";
    case TOKENWELL_JWT_EIAT_FUTURE:
      return "token issued in the future (iat)";
    case TOKENWELL_JWT_EISSUER:
      return "iss is missing or not the expected issuer";
    case TOKENWELL_JWT_EAUDIENCE:
      return "aud is missing or does not contain the expected audience";
    case TOKENWELL_JWT_ECLAIM_TYPE:
      return "claim has the wrong type (exp/nbf/iat a number, iss a string, aud a string or array of strings)";
    case TOKENWELL_JWT_EINTERNAL:
      return "internal error in the crypto library";
    case TOKENWELL_JWT_EKEY_USE:
      return "key's use or key_ops do not allow this (verify; sign for a signing key)";
    case TOKENWELL_JWT_EKID_DUPLICATE:
      return "keyset has two keys with the same kid";
    default:
      // jwt.h owns 100-199; every other code keeps tokenwell_strerror()'s text.
      if (code >= 100 && code <= 199) return "unknown error code";
      return tokenwell_strerror(code);
  }
}

int tokenwell_jwt_sign_jwk(const char* private_jwk, const char* claims_json, int64_t ttl_seconds,
                           char* out, size_t size, size_t* len) {
  if (private_jwk == nullptr || claims_json == nullptr || bad_buffer(out, size))
    return TOKENWELL_EINVAL;
  return guarded([&] {
    const tw::jose::Key key = tw::jose::Key::parse_private(private_jwk);
    return copy_out(tw::jose::sign_jwt(key, claims_json, ttl_seconds, tw::jose::real_now()), out,
                    size, len);
  });
}

int tokenwell_jwt_verify_jwks(const char* jwks, const char* token,
                              const tokenwell_jwt_verify_options* opts, char* claims_out,
                              size_t size, size_t* len) {
  if (jwks == nullptr || token == nullptr || bad_buffer(claims_out, size)) return TOKENWELL_EINVAL;
  return guarded([&] {
    const tw::jose::VerifyOptions options = options_from(opts);
    const tw::jose::KeySet keys = tw::jose::KeySet::parse(jwks);
    return copy_out(tw::jose::verify_jwt(keys, token, options), claims_out, size, len);
  });
}

int tokenwell_jwt_sign(const tokenwell* tw, const char* keyset, const char* claims_json,
                       int64_t ttl_seconds, char* out, size_t size, size_t* len) {
  if (tw == nullptr || keyset == nullptr || claims_json == nullptr || bad_buffer(out, size))
    return TOKENWELL_EINVAL;
  return guarded([&] {
    const KeysetValue value = read_keyset(tw, keyset);
    if (value.key.empty()) return static_cast<int>(TOKENWELL_JWT_ENO_SIGNING_KEY);
    const tw::jose::Key key = tw::jose::Key::parse_private(value.key);
    return copy_out(tw::jose::sign_jwt(key, claims_json, ttl_seconds, tw::jose::real_now()), out,
                    size, len);
  });
}

int tokenwell_jwt_verify(const tokenwell* tw, const char* keyset, const char* token,
                         const tokenwell_jwt_verify_options* opts, char* claims_out, size_t size,
                         size_t* len) {
  if (tw == nullptr || keyset == nullptr || token == nullptr || bad_buffer(claims_out, size))
    return TOKENWELL_EINVAL;
  return guarded([&] {
    const tw::jose::VerifyOptions options = options_from(opts);
    const KeysetValue value = read_keyset(tw, keyset);
    const std::shared_ptr<const tw::jose::KeySet> keys = keys_for(value);
    return copy_out(tw::jose::verify_jwt(*keys, token, options), claims_out, size, len);
  });
}

}  // extern "C"
