// client_assertion_test.cpp -- certificate loading and the client assertion
// JWT, checked independently with OpenSSL: header, claims and signature.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <gtest/gtest.h>


#include "entra_test_support.hpp"
#include "tokenwell/agent/sources/entra/client_assertion.hpp"

namespace tw {
namespace {

using nlohmann::json;
using test::make_test_certificate;

std::string sha(const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md, nullptr);
  return {reinterpret_cast<char*>(out), n};
}

struct Parts {
  json header;
  json claims;
  std::string signing_input;
  std::string signature;
};

Parts split(const std::string& jwt) {
  const auto d1 = jwt.find('.');
  const auto d2 = jwt.find('.', d1 + 1);
  Parts p;
  p.header = json::parse(*base64url_decode(jwt.substr(0, d1)));
  p.claims = json::parse(*base64url_decode(jwt.substr(d1 + 1, d2 - d1 - 1)));
  p.signing_input = jwt.substr(0, d2);
  p.signature = *base64url_decode(jwt.substr(d2 + 1));
  return p;
}

// Verifies with the certificate's public key, read back from its PEM.
bool verify(const std::string& cert_pem, const Parts& p, bool pss) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EVP_PKEY* pub = X509_get_pubkey(x);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, pub);
  if (pss) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);  // exactly the hash length
  }
  const int ok = EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(p.signature.data()), p.signature.size(),
                                  reinterpret_cast<const unsigned char*>(p.signing_input.data()), p.signing_input.size());
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pub);
  X509_free(x);
  return ok == 1;
}

AssertionClaims claims() {
  return {.audience = "https://login.microsoftonline.com/tenant/oauth2/v2.0/token",
          .client_id = "client-id",
          .jti = "jti-1",
          .now = 1'700'000'000};
}

TEST(ClientAssertion, Rs256CarriesX5tAndTheRequiredClaims) {
  const auto tc = make_test_certificate();
  auto cert = ClientCertificate::load_pem(tc.cert_pem + tc.key_pem);
  ASSERT_TRUE(cert) << cert.error().message;
  auto jwt = build_client_assertion(*cert, {.algorithm = AssertionAlgorithm::rs256}, claims());
  ASSERT_TRUE(jwt) << jwt.error().message;
  const Parts p = split(std::string(jwt->reveal()));

  EXPECT_EQ(p.header["alg"], "RS256");
  EXPECT_EQ(p.header["typ"], "JWT");
  EXPECT_EQ(p.header["x5t"], base64url_encode(sha(EVP_sha1(), tc.der)));
  EXPECT_FALSE(p.header.contains("x5t#S256"));
  EXPECT_FALSE(p.header.contains("x5c"));
  EXPECT_EQ(p.claims["aud"], "https://login.microsoftonline.com/tenant/oauth2/v2.0/token");
  EXPECT_EQ(p.claims["iss"], "client-id");
  EXPECT_EQ(p.claims["sub"], "client-id");
  EXPECT_EQ(p.claims["jti"], "jti-1");
  EXPECT_EQ(p.claims["iat"], 1'700'000'000);
  EXPECT_EQ(p.claims["nbf"], 1'700'000'000);
  EXPECT_EQ(p.claims["exp"], 1'700'000'300);
  EXPECT_TRUE(verify(tc.cert_pem, p, /*pss=*/false));
  EXPECT_FALSE(verify(tc.cert_pem, p, /*pss=*/true));
}

TEST(ClientAssertion, Ps256CarriesX5tS256AndOptionalX5c) {
  const auto tc = make_test_certificate();
  auto cert = ClientCertificate::load_pem(tc.key_pem + tc.cert_pem);  // key first works too
  ASSERT_TRUE(cert) << cert.error().message;
  auto jwt = build_client_assertion(*cert, {.algorithm = AssertionAlgorithm::ps256, .send_x5c = true}, claims());
  ASSERT_TRUE(jwt);
  const Parts p = split(std::string(jwt->reveal()));
  EXPECT_EQ(p.header["alg"], "PS256");
  EXPECT_EQ(p.header["x5t#S256"], base64url_encode(sha(EVP_sha256(), tc.der)));
  EXPECT_FALSE(p.header.contains("x5t"));
  ASSERT_EQ(p.header["x5c"].size(), 1u);
  EXPECT_EQ(p.header["x5c"][0], base64_encode(tc.der));
  EXPECT_TRUE(verify(tc.cert_pem, p, /*pss=*/true));
}

TEST(ClientAssertion, ChainPutsTheLeafFirstAndKidIsOptional) {
  const auto leaf = make_test_certificate();
  const auto other = make_test_certificate();
  auto cert = ClientCertificate::load_pem(other.cert_pem + leaf.cert_pem + leaf.key_pem);
  ASSERT_TRUE(cert) << cert.error().message;
  ASSERT_EQ(cert->chain_der().size(), 2u);
  EXPECT_EQ(cert->chain_der()[0], leaf.der);
  EXPECT_EQ(cert->chain_der()[1], other.der);
  auto jwt = build_client_assertion(*cert, {.algorithm = AssertionAlgorithm::rs256, .key_id = "key-1"}, claims());
  ASSERT_TRUE(jwt);
  EXPECT_EQ(split(std::string(jwt->reveal())).header["kid"], "key-1");
}

TEST(ClientAssertion, LifetimeIsConfigurable) {
  const auto tc = make_test_certificate();
  auto cert = ClientCertificate::load_pem(tc.cert_pem + tc.key_pem);
  ASSERT_TRUE(cert);
  auto c = claims();
  c.lifetime = std::chrono::seconds(600);
  auto jwt = build_client_assertion(*cert, {}, c);
  ASSERT_TRUE(jwt);
  EXPECT_EQ(split(std::string(jwt->reveal())).claims["exp"], 1'700'000'600);
}

TEST(ClientCertificate, RefusesWhatCannotSign) {
  const auto rsa = make_test_certificate();
  const auto other = make_test_certificate();
  const auto small = make_test_certificate(1024);
  const auto ec = make_test_certificate(256, 3600, "EC");
  struct Case {
    std::string pem;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", "no certificate found"},
      {rsa.key_pem, "no certificate found"},
      {rsa.cert_pem, "no private key found"},
      {other.cert_pem + rsa.key_pem, "no certificate in the file matches the private key"},
      {small.cert_pem + small.key_pem, "has 1024 bits"},
      {ec.cert_pem + ec.key_pem, "the private key is EC"},
      {rsa.cert_pem + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
       "encrypted"},
  };
  for (const auto& c : cases) {
    auto r = ClientCertificate::load_pem(c.pem);
    ASSERT_FALSE(r) << c.error;
    EXPECT_NE(r.error().message.find(c.error), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("PRIVATE KEY-----"), std::string::npos);
  }
}

TEST(ClientCertificate, LoadFileNamesThePath) {
  test::TempDir dir;
  auto r = ClientCertificate::load_file(dir / "missing.pem");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("missing.pem: No such file"), std::string::npos) << r.error().message;
  const auto tc = make_test_certificate(2048, 7200);
  test::write_file(dir / "c.pem", tc.cert_pem + tc.key_pem);
  auto ok = ClientCertificate::load_file(dir / "c.pem");
  ASSERT_TRUE(ok);
  EXPECT_NEAR(static_cast<double>(ok->not_after()), static_cast<double>(time(nullptr) + 7200), 5);
}

TEST(Jti, IsAVersion4UuidFromTheRandomSource) {
  test::CountingRandom random;
  const std::string a = make_jti(random);
  const std::string b = make_jti(random);
  EXPECT_EQ(a, "00010203-0405-4607-8809-0a0b0c0d0e0f");
  EXPECT_NE(a, b);
  OsRandomSource os;
  const std::string c = make_jti(os);
  ASSERT_EQ(c.size(), 36u);
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      EXPECT_EQ(c[i], '-');
    } else {
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c[i])) && !std::isupper(static_cast<unsigned char>(c[i])));
    }
  }
  EXPECT_EQ(c[14], '4');                                   // version 4
  EXPECT_NE(std::string("89ab").find(c[19]), std::string::npos);  // RFC 4122 variant
  EXPECT_NE(make_jti(os), c);
}

}  // namespace
}  // namespace tw
