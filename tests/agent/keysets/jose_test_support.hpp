// jose_test_support.hpp -- an independent, minimal JWS signer/verifier for the
// keyset tests, straight on OpenSSL EVP (the shim's JWT library lives apart):
// a token signed with a keyset's private JWK must verify against the JWKS a
// verifier holds, by kid, with the key's alg, within exp.
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenwell/jose/jose.hpp"

namespace tw {
using jose::base64_encode;
using jose::base64url_decode;
using jose::base64url_encode;
}  // namespace tw

namespace tw::test {

using nlohmann::json;

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

inline std::string b64d(const json& j, const char* m) {
  return base64url_decode(j.at(m).get<std::string>()).value();
}

inline BIGNUM* bn(const std::string& bytes) {
  return BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr);
}

// An EVP key from a public or private JWK (EC P-256, RSA, Ed25519).
inline PkeyPtr pkey_from_jwk(const json& jwk) {
  const std::string kty = jwk.at("kty");
  const bool priv = jwk.contains("d");
  if (kty == "OKP") {
    const std::string raw = b64d(jwk, priv ? "d" : "x");
    auto* p = reinterpret_cast<const unsigned char*>(raw.data());
    return PkeyPtr(priv ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, p, raw.size())
                        : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, p, raw.size()));
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::vector<BIGNUM*> bns;
  auto push_bn = [&](const char* name, const std::string& bytes) {
    bns.push_back(bn(bytes));
    OSSL_PARAM_BLD_push_BN(bld, name, bns.back());
  };
  std::string pub;
  const char* type = nullptr;
  if (kty == "EC") {
    type = "EC";
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    pub = std::string(1, '\x04') + b64d(jwk, "x") + b64d(jwk, "y");
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size());
    if (priv) push_bn(OSSL_PKEY_PARAM_PRIV_KEY, b64d(jwk, "d"));
  } else {
    type = "RSA";
    push_bn(OSSL_PKEY_PARAM_RSA_N, b64d(jwk, "n"));
    push_bn(OSSL_PKEY_PARAM_RSA_E, b64d(jwk, "e"));
    if (priv) {
      push_bn(OSSL_PKEY_PARAM_RSA_D, b64d(jwk, "d"));
      push_bn(OSSL_PKEY_PARAM_RSA_FACTOR1, b64d(jwk, "p"));
      push_bn(OSSL_PKEY_PARAM_RSA_FACTOR2, b64d(jwk, "q"));
      push_bn(OSSL_PKEY_PARAM_RSA_EXPONENT1, b64d(jwk, "dp"));
      push_bn(OSSL_PKEY_PARAM_RSA_EXPONENT2, b64d(jwk, "dq"));
      push_bn(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, b64d(jwk, "qi"));
    }
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &key, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  for (auto* b : bns) BN_clear_free(b);
  ERR_clear_error();
  return PkeyPtr(key);
}

inline const EVP_MD* digest_of(const std::string& alg) {
  return alg == "EdDSA" ? nullptr : EVP_sha256();
}

// A compact JWS with `claims`, signed by the private JWK (its kid and alg).
inline std::string sign_jwt(const std::string& private_jwk, const json& claims) {
  const json jwk = json::parse(private_jwk);
  const std::string alg = jwk.at("alg");
  auto key = pkey_from_jwk(jwk);
  if (!key) return "";
  const std::string input = base64url_encode(json{{"alg", alg}, {"kid", jwk.at("kid")}, {"typ", "JWT"}}.dump()) +
                            "." + base64url_encode(claims.dump());
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(md, &pctx, digest_of(alg), nullptr, key.get());
  if (alg == "PS256") {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t len = 0;
  EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(len);
  EVP_MD_CTX_free(md);
  if (alg == "ES256") {  // DER -> r || s
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data() + 32), 32);
    ECDSA_SIG_free(es);
    sig = raw;
  }
  return input + "." + base64url_encode(sig);
}

// Whether `token` verifies against the JWKS `jwks_text` at unix time `now`
// (kid must be listed, the key's alg must match, exp must not have passed).
inline bool verify_jwt(const std::string& token, const std::string& jwks_text, std::int64_t now) {
  const auto d1 = token.find('.'), d2 = token.rfind('.');
  if (d1 == std::string::npos || d1 == d2) return false;
  auto header_bytes = base64url_decode(token.substr(0, d1));
  auto claims_bytes = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = base64url_decode(token.substr(d2 + 1));
  if (!header_bytes || !claims_bytes || !sig) return false;
  const json header = json::parse(*header_bytes);
  const json claims = json::parse(*claims_bytes);
  if (!claims.contains("exp") || claims["exp"].get<std::int64_t>() <= now) return false;
  const json jwks = json::parse(jwks_text);
  for (const auto& k : jwks.at("keys")) {
    if (k.value("kid", "") != header.value("kid", "")) continue;
    const std::string alg = k.at("alg");
    if (alg != header.value("alg", "")) return false;
    if (k.contains("d")) return false;  // a public JWKS must not carry private members
    auto key = pkey_from_jwk(k);
    if (!key) return false;
    std::string s = *sig;
    if (alg == "ES256") {  // r || s -> DER
      if (s.size() != 64) return false;
      ECDSA_SIG* es = ECDSA_SIG_new();
      ECDSA_SIG_set0(es, bn(s.substr(0, 32)), bn(s.substr(32)));
      unsigned char* der = nullptr;
      const int n = i2d_ECDSA_SIG(es, &der);
      s.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
      OPENSSL_free(der);
      ECDSA_SIG_free(es);
    }
    const std::string input = token.substr(0, d2);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    EVP_DigestVerifyInit(md, &pctx, digest_of(alg), nullptr, key.get());
    if (alg == "PS256") {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    const int ok = EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                                    reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok == 1;
  }
  return false;
}

}  // namespace tw::test
