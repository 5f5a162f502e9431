// client_assertion.cpp -- PEM certificate + key loading and RS256/PS256
// client assertions with OpenSSL 3's EVP interface.
#include "tokenwell/agent/sources/entra/client_assertion.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <time.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/file_reader.hpp"
#include "tokenwell/jose/jose.hpp"

namespace tw {
namespace {

constexpr std::size_t kMaxPemBytes = 1 << 20;
constexpr int kMinRsaBits = 2048;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// OpenSSL's last error reason, without file names or data.
std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  const char* r = ERR_reason_error_string(e);
  return r ? r : "OpenSSL error " + std::to_string(e);
}

// Never prompt for a pass phrase: encrypted keys are refused.
int no_password(char*, int, int, void*) { return -1; }

std::string digest(const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

Result<std::string> der_of(X509* cert) {
  const int len = i2d_X509(cert, nullptr);
  if (len <= 0) return make_error("cannot encode certificate: " + openssl_reason());
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &p);
  return der;
}

}  // namespace

Result<ClientCertificate> ClientCertificate::load_pem(std::string_view pem) {
  if (pem.size() > kMaxPemBytes) return make_error("PEM larger than 1 MiB");
  if (pem.find("ENCRYPTED") != std::string_view::npos)
    return make_error("the private key is encrypted; tokenwell needs an unencrypted PEM key");

  std::vector<X509Ptr> certs;
  {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr)) certs.emplace_back(x);
    ERR_clear_error();  // the loop ends on "no start line"
  }
  if (certs.empty()) return make_error("no certificate found (expected a PEM CERTIFICATE block)");

  EVP_PKEY* raw_key = nullptr;
  {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    raw_key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr);
  }
  if (!raw_key) {
    ERR_clear_error();
    return make_error("no private key found (expected a PEM PRIVATE KEY block next to the certificate)");
  }
  std::shared_ptr<evp_pkey_st> key(raw_key, EVP_PKEY_free);
  if (!EVP_PKEY_is_a(key.get(), "RSA"))
    return make_error(std::string("the private key is ") + EVP_PKEY_get0_type_name(key.get()) +
                      "; client assertions need an RSA key");
  if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits)
    return make_error("the RSA key has " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                      " bits; at least 2048 are required");

  // The leaf is the certificate that matches the key; the rest keep file order.
  std::size_t leaf = certs.size();
  for (std::size_t i = 0; i < certs.size(); ++i) {
    if (X509_check_private_key(certs[i].get(), key.get()) == 1) {
      leaf = i;
      break;
    }
  }
  ERR_clear_error();
  if (leaf == certs.size()) return make_error("no certificate in the file matches the private key");

  ClientCertificate out;
  out.key_ = std::move(key);
  auto leaf_der = der_of(certs[leaf].get());
  if (!leaf_der) return leaf_der.error();
  out.chain_der_.push_back(std::move(*leaf_der));
  for (std::size_t i = 0; i < certs.size(); ++i) {
    if (i == leaf) continue;
    auto der = der_of(certs[i].get());
    if (!der) return der.error();
    out.chain_der_.push_back(std::move(*der));
  }
  out.x5t_ = jose::base64url_encode(digest(EVP_sha1(), out.chain_der_.front()));
  out.x5t_s256_ = jose::base64url_encode(digest(EVP_sha256(), out.chain_der_.front()));
  tm t{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certs[leaf].get()), &t) != 1)
    return make_error("cannot read the certificate's notAfter");
  out.not_after_ = static_cast<std::int64_t>(timegm(&t));
  return out;
}

Result<ClientCertificate> ClientCertificate::load_file(const std::filesystem::path& path) {
  auto pem = read_file(path, {.max_bytes = kMaxPemBytes});
  if (!pem) return pem.error();
  auto cert = load_pem(pem->reveal());
  if (!cert) return make_error(path.string() + ": " + cert.error().message);
  return cert;
}

Result<Secret> build_client_assertion(const ClientCertificate& cert, const AssertionOptions& options,
                                      const AssertionClaims& claims) {
  if (!cert.key()) return make_error("no key loaded");
  const bool rs256 = options.algorithm == AssertionAlgorithm::rs256;
  nlohmann::ordered_json header = {{"typ", "JWT"}};
  if (rs256) header["x5t"] = cert.x5t();
  else header["x5t#S256"] = cert.x5t_s256();
  if (!options.key_id.empty()) header["kid"] = options.key_id;
  if (options.send_x5c) {
    auto chain = nlohmann::ordered_json::array();
    for (const auto& der : cert.chain_der()) chain.push_back(jose::base64_encode(der));
    header["x5c"] = std::move(chain);
  }
  const nlohmann::ordered_json payload = {
      {"aud", claims.audience},
      {"iss", claims.client_id},
      {"sub", claims.client_id},
      {"jti", claims.jti},
      {"iat", claims.now},
      {"nbf", claims.now},
      {"exp", claims.now + claims.lifetime.count()},
  };
  try {
    // RS256, or PS256 (RFC 7518 3.5: MGF1 with SHA-256, a salt as long as the hash).
    const jose::Key key = jose::Key::from_pkey(cert.key(), rs256 ? jose::Alg::RS256 : jose::Alg::PS256);
    return Secret(jose::sign_jws(key, std::move(header), payload.dump()));
  } catch (const jose::Rejection& r) {
    return make_error("cannot sign: " + (r.detail.empty() ? "error " + std::to_string(r.code) : r.detail));
  }
}

std::string make_jti(RandomSource& random) {
  std::array<unsigned char, 16> b{};
  random.fill(b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

}  // namespace tw
