/*
 * jwt.h -- sign and verify JWTs (compact JWS) with the keys tokenwell-agent
 * publishes, in libtokenwell-jwt (link -ltokenwell-jwt -ltokenwell).
 *
 *   char token[4096], claims[4096];
 *   int rc = tokenwell_jwt_sign(tw, "sessions", "{\"sub\":\"alice\"}", 300,
 *                               token, sizeof token, NULL);
 *   if (rc == TOKENWELL_OK) hand_out(token);
 *
 *   tokenwell_jwt_verify_options opts = {.struct_size = sizeof opts,
 *                                        .audience = "my-api",
 *                                        .leeway_seconds = -1};
 *   rc = tokenwell_jwt_verify(tw, "sessions", received, &opts,
 *                             claims, sizeof claims, NULL);
 *   if (rc != TOKENWELL_OK)
 *     fprintf(stderr, "rejected: %s\n", tokenwell_jwt_strerror(rc));
 *
 * Algorithms: ES256/ES384/ES512 (P-256/P-384/P-521), RS256/RS384/RS512,
 * PS256/PS384/PS512 (RSA, 2048 to 16384 bits), EdDSA (Ed25519; "Ed25519" is
 * accepted as an alg name too) and HS256/HS384/HS512 (a key at least as long
 * as the hash). Verification follows RFC 8725: the key decides the algorithm
 * (each key allows exactly one: its "alg", else the one its kty/crv
 * implies), "none" is rejected, and a header that tries to choose a key
 * ("jwk", "x5c", "jku", "x5u") is rejected -- nothing is ever fetched. Keys
 * that cannot be trusted are refused (EWEAK_KEY: RSA e even or under 3,
 * ROCA-fingerprinted moduli, Ed25519 points of small order), so are keys
 * whose "use"/"key_ops" exclude verifying (EKEY_USE), a JWKS naming two keys
 * with one kid (EKID_DUPLICATE) or mixing an "oct" key with public keys
 * (EKEY), and JSON that starts with a byte order mark (EJSON). A JWS with an
 * empty payload is no JWT (EMALFORMED). Every rejection has its own code
 * below; docs/jwt.md lists them with the Wycheproof results.
 *
 * Keysets in the segment are documented in docs/segment-format.md ("Keyset
 * slots"): the public JWKS, and for signing keysets the active private JWK.
 *
 * Thread safety: every function may be called from any number of threads at
 * once (with a tokenwell handle under tokenwell.h's rules).
 */
#ifndef TOKENWELL_JWT_H
#define TOKENWELL_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "tokenwell/tokenwell.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Return codes: TOKENWELL_* from tokenwell.h (arguments, segment, buffers)
 * and these rejections. jwt.h owns the range 100-199 (tokenwell.h has
 * 0-99, tokenwell/hiredis.h 200-299), so no code of another header ever
 * means a rejection. Never renumbered; new ones are only appended.
 */
enum {
  TOKENWELL_JWT_EMALFORMED = 100,   /* not header.payload.signature */
  TOKENWELL_JWT_EBASE64 = 101,      /* not canonical unpadded base64url */
  TOKENWELL_JWT_EJSON = 102,        /* header or claims not a JSON object
                                       (also: a UTF-8 byte order mark first) */
  TOKENWELL_JWT_EDUPLICATE = 103,   /* a JSON member appears twice */
  TOKENWELL_JWT_ETOOLARGE = 104,    /* token, JSON or nesting over the limits */
  TOKENWELL_JWT_EALG_NONE = 105,    /* alg "none" (unsecured JWS) */
  TOKENWELL_JWT_EALG_UNKNOWN = 106, /* alg missing or not supported */
  TOKENWELL_JWT_EALG_KEY = 107,     /* alg not the one the key allows */
  TOKENWELL_JWT_EEMBEDDED_KEY = 108,/* header carries a key: jwk, x5c */
  TOKENWELL_JWT_EKEY_URL = 109,     /* header points at keys: jku, x5u */
  TOKENWELL_JWT_ECRIT = 110,        /* crit names extensions not understood */
  TOKENWELL_JWT_EKID_UNKNOWN = 111, /* no key with the token's kid */
  TOKENWELL_JWT_EKID_MISSING = 112, /* no kid and more than one key */
  TOKENWELL_JWT_ESIGNATURE = 113,   /* signature does not verify */
  TOKENWELL_JWT_ESIG_FORMAT = 114,  /* wrong length; ECDSA r/s out of range */
  TOKENWELL_JWT_EWEAK_KEY = 115,    /* RSA < 2048 bits, e even or < 3, ROCA
                                       modulus; Ed25519 small-order point;
                                       HMAC < 256 bits */
  TOKENWELL_JWT_EKEY = 116,         /* JWK/JWKS invalid or without a usable key */
  TOKENWELL_JWT_ENO_SIGNING_KEY = 117, /* verify-only keyset; no private key */
  TOKENWELL_JWT_EEXP_MISSING = 118, /* no exp claim */
  TOKENWELL_JWT_EEXPIRED = 119,     /* exp passed (beyond leeway) */
  TOKENWELL_JWT_ENOT_YET_VALID = 120, /* nbf in the future (beyond leeway) */
  TOKENWELL_JWT_EIAT_FUTURE = 121,  /* iat in the future (beyond leeway) */
  TOKENWELL_JWT_EISSUER = 122,      /* iss missing or not the expected one */
  TOKENWELL_JWT_EAUDIENCE = 123,    /* aud missing or without the expected one */
  TOKENWELL_JWT_ECLAIM_TYPE = 124,  /* exp/nbf/iat not a number, iss/aud mistyped */
  TOKENWELL_JWT_EINTERNAL = 125,    /* crypto library failure, out of memory */
  TOKENWELL_JWT_EKEY_USE = 126,     /* the key's "use"/"key_ops" do not allow it
                                       (verify, or sign for a signing key) */
  TOKENWELL_JWT_EKID_DUPLICATE = 127 /* a JWKS with two keys of one "kid" */
};

/* Limits: longer tokens and JWKS are rejected with ETOOLARGE. */
#define TOKENWELL_JWT_TOKEN_MAX 16384
#define TOKENWELL_JWT_JSON_MAX 65536
#define TOKENWELL_JWT_DEPTH_MAX 16
#define TOKENWELL_JWT_DEFAULT_LEEWAY 60
/* The lifetime (seconds) `tokenwell jwt sign --ttl` and the agent's
 * POST /v1/keysets/NAME/sign?ttl= give a token by default, and the longest
 * they accept. */
#define TOKENWELL_JWT_TTL_DEFAULT 300
#define TOKENWELL_JWT_TTL_MAX (366 * 86400)

/*
 * Verification options. Set struct_size to sizeof(tokenwell_jwt_verify_options)
 * so later versions can add members; NULL options = all defaults.
 */
typedef struct tokenwell_jwt_verify_options {
  size_t struct_size;
  const char *audience;   /* NULL: aud not checked; else aud must contain it */
  const char *issuer;     /* NULL: iss not checked; else iss must equal it */
  int64_t leeway_seconds; /* clock skew for exp/nbf/iat; negative: 60 */
  int64_t now;            /* unix seconds to verify at; 0: the real clock */
} tokenwell_jwt_verify_options;

/*
 * Text for a TOKENWELL_JWT_* code (100-199) or, for any other code, that of
 * tokenwell_strerror(); never NULL, static.
 */
TOKENWELL_API const char *tokenwell_jwt_strerror(int code);

/*
 * Signs claims_json (a JSON object) with the active signing key of keyset
 * `keyset`: header {"alg","kid","typ":"JWT"}; "iat" (now) and "exp"
 * (now + ttl_seconds) are added unless the claims have them (ttl_seconds
 * must then be > 0). Writes the compact JWS, NUL-terminated, to out; *len
 * (may be NULL) is its length, also with TOKENWELL_ETOOSMALL.
 * TOKENWELL_JWT_ENO_SIGNING_KEY for a verify-only keyset, and for a signing
 * keyset whose private key is not in the segment (the agent's default:
 * without "private_in_segment": true apps sign through the agent's
 * POST /v1/keysets/NAME/sign, docs/socket-api.md).
 */
TOKENWELL_API int tokenwell_jwt_sign(const tokenwell *tw, const char *keyset,
                                     const char *claims_json,
                                     int64_t ttl_seconds, char *out,
                                     size_t size, size_t *len);

/*
 * Verifies token against keyset `keyset` (its public JWKS; for HS256 its
 * secret key) and copies the claims JSON, NUL-terminated, to claims_out
 * (may be NULL with size 0 to only verify). opts may be NULL.
 */
TOKENWELL_API int tokenwell_jwt_verify(
    const tokenwell *tw, const char *keyset, const char *token,
    const tokenwell_jwt_verify_options *opts, char *claims_out, size_t size,
    size_t *len);

/* tokenwell_jwt_sign() with a private JWK given as JSON, no segment. */
TOKENWELL_API int tokenwell_jwt_sign_jwk(const char *private_jwk,
                                         const char *claims_json,
                                         int64_t ttl_seconds, char *out,
                                         size_t size, size_t *len);

/*
 * tokenwell_jwt_verify() with keys given as JSON, no segment: a JWKS
 * {"keys":[...]} or a single JWK (which may be an "oct" key for HS256).
 */
TOKENWELL_API int tokenwell_jwt_verify_jwks(
    const char *jwks, const char *token,
    const tokenwell_jwt_verify_options *opts, char *claims_out, size_t size,
    size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* TOKENWELL_JWT_H */
