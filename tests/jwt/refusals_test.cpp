// Keys and tokens an outside review got accepted (issue 11), each refused
// with its code through the C ABI: RSA e = 1 with the padding block as the
// signature, the Ed25519 identity key with signature (identity, 0) and the
// other small-order points, keys whose use/key_ops exclude verifying, RSA
// under 2048 bits, a ROCA-fingerprinted modulus, duplicate kids in a JWKS and
// a UTF-8 byte order mark before the header or claims JSON.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <string>
#include <vector>

#include "jwt_test_util.hpp"
#include "tokenwell/jwt.h"

namespace tw::test {
namespace {

constexpr std::int64_t kNow = 1700000000;
const std::string kClaims = R"({"sub":"admin","iat":1700000000,"exp":1700000600})";

int verify_code(const std::string& jwks, const std::string& token) {
  tokenwell_jwt_verify_options opts = {sizeof opts, nullptr, nullptr, -1, kNow};
  return tokenwell_jwt_verify_jwks(jwks.c_str(), token.c_str(), &opts, nullptr, 0, nullptr);
}

std::string unsigned_part(const std::string& header, const std::string& claims = kClaims) {
  return b64(header) + "." + b64(claims);
}

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

// With e = 1, s^e mod n = s: the EMSA-PKCS1-v1_5 block itself "verifies".
TEST(Refusals, RsaExponentOneWithThePaddingBlockAsSignature) {
  nlohmann::json jwk = public_jwk_json("RS256");
  jwk["kid"] = "rs-e1";
  jwk["e"] = b64(std::string(1, '\x01'));
  const std::string input = unsigned_part(R"({"alg":"RS256","kid":"rs-e1"})");
  static const std::string kSha256DigestInfo("\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20", 19);
  const std::string t = kSha256DigestInfo + sha256(input);
  const std::string block = std::string("\x00\x01", 2) + std::string(256 - 3 - t.size(), '\xff') + '\0' + t;
  ASSERT_EQ(block.size(), 256u);
  const std::string jwks = nlohmann::json{{"keys", {jwk}}}.dump();
  EXPECT_EQ(verify_code(jwks, input + "." + b64(block)), TOKENWELL_JWT_EWEAK_KEY);
  // Even exponents and e = 0 are no RSA keys either.
  for (const std::string& e : {std::string(1, '\x00'), std::string(1, '\x02'), std::string("\x01\x00\x00", 3)}) {
    jwk["e"] = b64(e);
    EXPECT_EQ(verify_code(nlohmann::json{{"keys", {jwk}}}.dump(), input + "." + b64(block)),
              TOKENWELL_JWT_EWEAK_KEY);
  }
}

// The 32-byte encodings of the Ed25519 points of order 1, 2, 4 and 8, with
// their non-canonical twins (y >= p), as libsodium's blocklist lists them.
std::vector<std::string> small_order_points() {
  std::vector<std::string> points;
  const auto hex = [](const char* h) {
    std::string out;
    for (; h[0] && h[1]; h += 2) out += static_cast<char>(std::stoi(std::string(h, 2), nullptr, 16));
    return out;
  };
  for (const char* h : {
           "0100000000000000000000000000000000000000000000000000000000000000",  // identity
           "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // order 2
           "0000000000000000000000000000000000000000000000000000000000000000",  // order 4
           "0000000000000000000000000000000000000000000000000000000000000080",  // order 4
           "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  // order 8
           "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  // order 8
           "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  // order 8
           "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  // order 8
           "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p = 0
           "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // p + 1 = 1
       })
    points.push_back(hex(h));
  return points;
}

TEST(Refusals, Ed25519IdentityKeyWithIdentitySignature) {
  const std::string identity = small_order_points().front();
  const std::string jwk = nlohmann::json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", b64(identity)}}.dump();
  const std::string token = unsigned_part(R"({"alg":"EdDSA"})") + "." + b64(identity + std::string(32, '\0'));
  EXPECT_EQ(verify_code(jwk, token), TOKENWELL_JWT_EWEAK_KEY);
}

TEST(Refusals, Ed25519SmallOrderKeysAreRefused) {
  for (const std::string& point : small_order_points()) {
    const std::string jwk = nlohmann::json{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", b64(point)}}.dump();
    const std::string token = unsigned_part(R"({"alg":"EdDSA"})") + "." + b64(point + std::string(32, '\0'));
    EXPECT_EQ(verify_code(jwk, token), TOKENWELL_JWT_EWEAK_KEY) << b64(point);
  }
  // A real key still verifies.
  EXPECT_EQ(verify_code(jwks_of({"EdDSA"}), forge(key_of("EdDSA"), R"({"alg":"EdDSA","kid":"ed-1"})", kClaims)),
            TOKENWELL_OK);
}

TEST(Refusals, KeyOpsOrUseThatExcludeVerifying) {
  const std::string token = forge(key_of("ES256"), R"({"alg":"ES256","kid":"es-1"})", kClaims);
  const auto with = [](const char* member, nlohmann::json value) {
    nlohmann::json jwk = public_jwk_json("ES256");
    jwk.erase("use");
    jwk[member] = std::move(value);
    return jwk.dump();
  };
  EXPECT_EQ(verify_code(with("key_ops", {"sign"}), token), TOKENWELL_JWT_EKEY_USE);
  EXPECT_EQ(verify_code(with("key_ops", {"encrypt", "decrypt"}), token), TOKENWELL_JWT_EKEY_USE);
  EXPECT_EQ(verify_code(with("key_ops", nlohmann::json::array()), token), TOKENWELL_JWT_EKEY_USE);
  EXPECT_EQ(verify_code(with("use", "enc"), token), TOKENWELL_JWT_EKEY_USE);
  EXPECT_EQ(verify_code("{\"keys\":[" + with("use", "enc") + "]}", token), TOKENWELL_JWT_EKEY_USE);
  // Malformed key_ops: not an array of distinct strings.
  EXPECT_EQ(verify_code(with("key_ops", "verify"), token), TOKENWELL_JWT_EKEY);
  EXPECT_EQ(verify_code(with("key_ops", {"verify", "verify"}), token), TOKENWELL_JWT_EKEY);
  EXPECT_EQ(verify_code(with("key_ops", {"verify", 1}), token), TOKENWELL_JWT_EKEY);
  // Allowed: key_ops with verify, use sig, neither.
  EXPECT_EQ(verify_code(with("key_ops", {"verify"}), token), TOKENWELL_OK);
  EXPECT_EQ(verify_code(with("key_ops", {"sign", "verify"}), token), TOKENWELL_OK);
  EXPECT_EQ(verify_code(with("use", "sig"), token), TOKENWELL_OK);
  // A private key file marked for signing only is still a key (its public
  // half is what verifiers get): the agent reads key files this way.
  nlohmann::json signer = test_keys().at("ES256");
  signer["key_ops"] = {"sign"};
  EXPECT_NO_THROW(jose::Key::from_json(signer, /*need_private=*/false));
  // A signing key whose key_ops exclude signing does not sign.
  nlohmann::json priv = test_keys().at("ES256");
  priv["key_ops"] = {"verify"};
  char out[2048];
  EXPECT_EQ(tokenwell_jwt_sign_jwk(priv.dump().c_str(), "{}", 60, out, sizeof out, nullptr),
            TOKENWELL_JWT_EKEY_USE);
}

TEST(Refusals, RsaModulusUnder2048Bits) {
  // The signature is of the right length but wrong: were the key accepted,
  // the answer would be ESIGNATURE.
  for (const char* name : {"RS256_2047", "RS256_1024"}) {
    const std::string kid = public_jwk_json(name).at("kid");
    const std::string token = unsigned_part(R"({"alg":"RS256","kid":")" + kid + "\"}") + "." +
                              b64(std::string(std::string_view(name) == "RS256_1024" ? 128 : 256, '\x01'));
    EXPECT_EQ(verify_code(jwks_of({name}), token), TOKENWELL_JWT_EWEAK_KEY) << name;
  }
}

// A modulus whose primes have the Infineon RSALib structure (CVE-2017-15361):
// the fingerprint test of Nemec et al. finds it, whatever its size.
TEST(Refusals, RocaFingerprintedModulus) {
  // A wrong signature of the right length: accepting the key would say ESIGNATURE
  // (Wycheproof's ROCA vectors, with real signatures, are accepted by the old
  // code: json_web_key_test tc7, json_web_crypto_test tc46).
  const std::string roca_token =
      unsigned_part(R"({"alg":"RS256","kid":"rs-roca"})") + "." + b64(std::string(256, '\x01'));
  EXPECT_EQ(verify_code(jwks_of({"RS256_roca"}), roca_token), TOKENWELL_JWT_EWEAK_KEY);
  char out[4096];
  EXPECT_EQ(tokenwell_jwt_sign_jwk(private_jwk("RS256_roca").c_str(), "{}", 60, out, sizeof out, nullptr),
            TOKENWELL_JWT_EWEAK_KEY);
  // Ordinary keys pass the test.
  for (const char* name : {"RS256", "PS256"})
    EXPECT_EQ(verify_code(jwks_of({name}), forge(key_of(name),
                                                 R"({"alg":")" + std::string(name) + R"(","kid":")" +
                                                     public_jwk_json(name).at("kid").get<std::string>() + "\"}",
                                                 kClaims)),
              TOKENWELL_OK)
        << name;
}

TEST(Refusals, JwksWithDuplicateKids) {
  nlohmann::json a = public_jwk_json("ES256"), b = public_jwk_json("RS256");
  a["kid"] = b["kid"] = "same";
  const std::string jwks = nlohmann::json{{"keys", {a, b}}}.dump();
  const std::string token = forge(key_of("ES256"), R"({"alg":"ES256","kid":"same"})", kClaims);
  EXPECT_EQ(verify_code(jwks, token), TOKENWELL_JWT_EKID_DUPLICATE);
  // The same key twice is a duplicate too.
  EXPECT_EQ(verify_code(nlohmann::json{{"keys", {a, a}}}.dump(), token), TOKENWELL_JWT_EKID_DUPLICATE);
}

// A shared secret beside public keys (Wycheproof's MixedKeySet): either a
// public JWKS that leaks a secret or one whose kid switches a token between
// HMAC and a signature.
TEST(Refusals, KeysetMixingSymmetricAndAsymmetricKeys) {
  const std::string token = forge(key_of("ES256"), R"({"alg":"ES256","kid":"es-1"})", kClaims);
  EXPECT_EQ(verify_code(jwks_of({"ES256"}), token), TOKENWELL_OK);
  EXPECT_EQ(verify_code(jwks_of({"ES256", "HS256"}), token), TOKENWELL_JWT_EKEY);
}

TEST(Refusals, ByteOrderMarkBeforeHeaderOrClaimsIsMalformedJson) {
  const std::string bom = "\xef\xbb\xbf";
  const std::string jwks = jwks_of({"ES256"});
  const jose::Key key = key_of("ES256");
  EXPECT_EQ(verify_code(jwks, forge(key, R"({"alg":"ES256","kid":"es-1"})", kClaims)), TOKENWELL_OK);
  EXPECT_EQ(verify_code(jwks, forge(key, bom + R"({"alg":"ES256","kid":"es-1"})", kClaims)),
            TOKENWELL_JWT_EJSON);
  EXPECT_EQ(verify_code(jwks, forge(key, R"({"alg":"ES256","kid":"es-1"})", bom + kClaims)),
            TOKENWELL_JWT_EJSON);
}

}  // namespace
}  // namespace tw::test
