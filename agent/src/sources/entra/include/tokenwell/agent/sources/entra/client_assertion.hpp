// client_assertion.hpp -- certificate credentials: the signed JWT a client
// sends as `client_assertion` instead of a secret (RFC 7523, as Entra ID
// specifies it for certificate credentials).
//
//   auto cert = ClientCertificate::load_file("/etc/tokenwell/client.pem");
//   if (!cert) return fail(cert.error());
//   auto jwt = build_client_assertion(*cert, {.algorithm = AssertionAlgorithm::ps256},
//       {.audience = token_url, .client_id = id, .jti = make_jti(random),
//        .now = clock.unix_seconds()});
//
// The header carries `x5t` (RS256: base64url SHA-1 of the DER certificate) or
// `x5t#S256` (PS256: SHA-256), and `x5c` when asked; the claims are aud, iss,
// sub, jti, iat, nbf, exp. ClientCertificate is immutable and thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenwell/agent/common/random_source.hpp"
#include "tokenwell/agent/config/entra_config.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace tw {

// An RSA private key and its certificate (plus any chain) from one PEM file.
class ClientCertificate {
 public:
  // Certificates and one unencrypted private key, in any order; the leaf is
  // the certificate whose public key matches the key. RSA, 2048 bits or more.
  static Result<ClientCertificate> load_pem(std::string_view pem);
  static Result<ClientCertificate> load_file(const std::filesystem::path& path);

  const std::string& x5t() const { return x5t_; }            // base64url SHA-1 (DER)
  const std::string& x5t_s256() const { return x5t_s256_; }  // base64url SHA-256 (DER)
  const std::vector<std::string>& chain_der() const { return chain_der_; }  // leaf first
  std::int64_t not_after() const { return not_after_; }     // unix seconds
  evp_pkey_st* key() const { return key_.get(); }

 private:
  std::shared_ptr<evp_pkey_st> key_;
  std::vector<std::string> chain_der_;
  std::string x5t_;
  std::string x5t_s256_;
  std::int64_t not_after_ = 0;
};

struct AssertionOptions {
  AssertionAlgorithm algorithm = AssertionAlgorithm::ps256;
  bool send_x5c = false;  // include the chain (Entra: subject name + issuer auth)
  std::string key_id;     // optional `kid` header (generic OAuth2 IdPs)
};

struct AssertionClaims {
  std::string audience;   // the token endpoint URL
  std::string client_id;  // iss and sub
  std::string jti;        // unique per assertion
  std::int64_t now = 0;   // unix seconds: iat and nbf
  std::chrono::seconds lifetime{300};  // exp = now + lifetime (Entra: <= 10 min)
};

Result<Secret> build_client_assertion(const ClientCertificate& cert, const AssertionOptions& options,
                                      const AssertionClaims& claims);

// A random UUID (version 4) for `jti`.
std::string make_jti(RandomSource& random);

}  // namespace tw
