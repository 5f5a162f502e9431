// Sign -> verify round trips for every algorithm through the C ABI, the
// buffer and option rules of tokenwell/jwt.h, and keysets read from a real
// segment written by the agent's SegmentWriter.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "jwt_test_util.hpp"
#include "support/test_util.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/jwt.h"

namespace tw::test {
namespace {

std::string sign_jwk(const std::string& jwk, const std::string& claims, std::int64_t ttl, int* rc) {
  char out[TOKENWELL_JWT_TOKEN_MAX];
  size_t len = 0;
  *rc = tokenwell_jwt_sign_jwk(jwk.c_str(), claims.c_str(), ttl, out, sizeof out, &len);
  return *rc == TOKENWELL_OK ? std::string(out, len) : std::string();
}

nlohmann::json part(const std::string& token, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i) start = token.find('.', start) + 1;
  const std::size_t end = token.find('.', start);
  return nlohmann::json::parse(*jose::base64url_decode(token.substr(start, end - start)));
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, SignedTokenVerifiesWithThePublishedKeys) {
  const std::string alg = GetParam();
  int rc = 0;
  const std::string token = sign_jwk(private_jwk(alg), R"({"sub":"alice","aud":"api"})", 300, &rc);
  ASSERT_EQ(rc, TOKENWELL_OK) << tokenwell_jwt_strerror(rc);

  const nlohmann::json header = part(token, 0);
  EXPECT_EQ(header["alg"], alg);
  EXPECT_EQ(header["kid"], test_keys()[alg]["kid"]);
  EXPECT_EQ(header["typ"], "JWT");
  const nlohmann::json claims = part(token, 1);
  EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), 300);

  // A keyset holds either public keys or one shared HMAC key, never both.
  const std::string jwks =
      alg.starts_with("HS") ? jwks_of({alg})
                            : jwks_of({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384",
                                       "PS512", "EdDSA"});
  char out[4096];
  size_t len = 0;
  tokenwell_jwt_verify_options opts = {sizeof opts, "api", nullptr, -1, 0};
  ASSERT_EQ(tokenwell_jwt_verify_jwks(jwks.c_str(), token.c_str(), &opts, out, sizeof out, &len),
            TOKENWELL_OK);
  EXPECT_EQ(nlohmann::json::parse(std::string(out, len)), claims);

  // One flipped bit anywhere in the signed input breaks it.
  std::string tampered = token;
  tampered[token.find('.') + 3] ^= 0x01;
  EXPECT_NE(tokenwell_jwt_verify_jwks(jwks.c_str(), tampered.c_str(), &opts, nullptr, 0, nullptr),
            TOKENWELL_OK);
}

INSTANTIATE_TEST_SUITE_P(Jwt, RoundTrip,
                         ::testing::Values("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384",
                                           "PS512", "EdDSA", "HS256", "HS384", "HS512"));

// The empty payload: a JWS (verify_jws returns it), never a JWT.
TEST(EmptyPayload, JwsYesJwtNo) {
  const jose::Key key = key_of("ES256");
  const std::string input = b64(R"({"alg":"ES256","kid":"es-1"})") + ".";
  const std::string token = input + "." + b64(key.sign(input));
  const jose::KeySet keys = jose::KeySet::parse(jwks_of({"ES256"}));
  EXPECT_EQ(jose::verify_jws(keys, token), "");
  tokenwell_jwt_verify_options opts = {sizeof opts, nullptr, nullptr, -1, 0};
  EXPECT_EQ(tokenwell_jwt_verify_jwks(jwks_of({"ES256"}).c_str(), token.c_str(), &opts, nullptr, 0, nullptr),
            TOKENWELL_JWT_EMALFORMED);
}

// RFC 7518 3.2: an HMAC key at least as long as the hash.
TEST(Sign, HmacKeyShorterThanItsHashIsWeak) {
  nlohmann::json k = test_keys()["HS256"];  // 32 bytes
  for (const char* alg : {"HS384", "HS512"}) {
    k["alg"] = alg;
    int rc = 0;
    sign_jwk(k.dump(), "{}", 60, &rc);
    EXPECT_EQ(rc, TOKENWELL_JWT_EWEAK_KEY) << alg;
  }
}

TEST(Sign, Ed25519IsAcceptedAsAlgName) {
  nlohmann::json k = test_keys()["EdDSA"];
  k["alg"] = "Ed25519";
  int rc = 0;
  const std::string token = sign_jwk(k.dump(), R"({"sub":"a"})", 60, &rc);
  ASSERT_EQ(rc, TOKENWELL_OK);
  const std::string jwks = jwks_of({"EdDSA"});
  EXPECT_EQ(tokenwell_jwt_verify_jwks(jwks.c_str(), token.c_str(), nullptr, nullptr, 0, nullptr), TOKENWELL_OK);
  // And a header saying "Ed25519" verifies with a key saying "EdDSA".
  const std::string forged = forge(key_of("EdDSA"), R"({"alg":"Ed25519","kid":"ed-1"})",
                                   R"({"exp":)" + std::to_string(jose::real_now() + 60) + "}");
  EXPECT_EQ(tokenwell_jwt_verify_jwks(jwks.c_str(), forged.c_str(), nullptr, nullptr, 0, nullptr), TOKENWELL_OK);
}

TEST(Sign, KeepsExpAndIatFromTheClaims) {
  int rc = 0;
  const std::string token = sign_jwk(private_jwk("ES256"), R"({"iat":1,"exp":2})", 0, &rc);
  ASSERT_EQ(rc, TOKENWELL_OK);
  EXPECT_EQ(part(token, 1), nlohmann::json::parse(R"({"iat":1,"exp":2})"));
}

TEST(Sign, RefusesWhatItCannotSign) {
  int rc = 0;
  sign_jwk(private_jwk("ES256"), R"({"sub":"a"})", 0, &rc);
  EXPECT_EQ(rc, TOKENWELL_EINVAL) << "no exp and no ttl";
  sign_jwk(private_jwk("ES256"), R"({"sub":"a","sub":"b"})", 60, &rc);
  EXPECT_EQ(rc, TOKENWELL_JWT_EDUPLICATE);
  sign_jwk(private_jwk("ES256"), R"(["not an object"])", 60, &rc);
  EXPECT_EQ(rc, TOKENWELL_JWT_EJSON);
  sign_jwk(public_jwk_json("ES256").dump(), R"({"sub":"a"})", 60, &rc);
  EXPECT_EQ(rc, TOKENWELL_JWT_EKEY) << "a public key cannot sign";
  sign_jwk(private_jwk("RS256_1024"), R"({"sub":"a"})", 60, &rc);
  EXPECT_EQ(rc, TOKENWELL_JWT_EWEAK_KEY);
  sign_jwk(private_jwk("HS256_short"), R"({"sub":"a"})", 60, &rc);
  EXPECT_EQ(rc, TOKENWELL_JWT_EWEAK_KEY);
  sign_jwk(R"({"kty":"RSA","d":)", R"({"sub":"a"})", 60, &rc);
  EXPECT_EQ(rc, TOKENWELL_JWT_EKEY);
}

TEST(CAbi, BuffersAndArguments) {
  const std::string jwk = private_jwk("ES256");
  char small[8];
  size_t len = 0;
  EXPECT_EQ(tokenwell_jwt_sign_jwk(jwk.c_str(), "{}", 60, small, sizeof small, &len), TOKENWELL_ETOOSMALL);
  EXPECT_GT(len, sizeof small);
  EXPECT_EQ(small[0], '\0');
  std::string token(len + 1, '\0');
  ASSERT_EQ(tokenwell_jwt_sign_jwk(jwk.c_str(), "{}", 60, token.data(), token.size(), &len), TOKENWELL_OK);
  token.resize(len);

  EXPECT_EQ(tokenwell_jwt_sign_jwk(nullptr, "{}", 60, nullptr, 0, nullptr), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_jwt_sign_jwk(jwk.c_str(), "{}", 60, nullptr, 5, nullptr), TOKENWELL_EINVAL);
  const std::string jwks = jwks_of({"ES256"});
  EXPECT_EQ(tokenwell_jwt_verify_jwks(jwks.c_str(), nullptr, nullptr, nullptr, 0, nullptr), TOKENWELL_EINVAL);
  // An options struct from an older caller that only knew `audience`.
  struct {
    size_t struct_size;
    const char* audience;
  } old = {sizeof old, nullptr};
  EXPECT_EQ(tokenwell_jwt_verify_jwks(jwks.c_str(), token.c_str(),
                                      reinterpret_cast<const tokenwell_jwt_verify_options*>(&old), nullptr,
                                      0, nullptr),
            TOKENWELL_OK);
  tokenwell_jwt_verify_options bad = {0, nullptr, nullptr, -1, 0};
  EXPECT_EQ(tokenwell_jwt_verify_jwks(jwks.c_str(), token.c_str(), &bad, nullptr, 0, nullptr), TOKENWELL_EINVAL);
  // `now` lets a caller verify at a fixed time: an hour later the token expired.
  tokenwell_jwt_verify_options later = {sizeof later, nullptr, nullptr, 0, jose::real_now() + 3600};
  EXPECT_EQ(tokenwell_jwt_verify_jwks(jwks.c_str(), token.c_str(), &later, nullptr, 0, nullptr),
            TOKENWELL_JWT_EEXPIRED);
}

// Keysets in a real segment, in the format of docs/segment-format.md.
class SegmentKeysets : public ::testing::Test {
 protected:
  TempDir dir;
  SystemClock clock;
  std::unique_ptr<SegmentWriter> writer;
  tokenwell* tw = nullptr;

  void SetUp() override {
    auto w = SegmentWriter::open(dir.path(), {8, 8192}, clock);
    ASSERT_TRUE(w.ok()) << w.error().message;
    writer = std::move(*w);
  }
  void TearDown() override { tokenwell_close(tw); }

  void publish_keyset(const std::string& name, const std::string& jwks, const std::string& key) {
    SlotValue v;
    v.kind = SlotKind::keyset;
    v.public_data = jwks;
    v.secret = key;
    ASSERT_TRUE(writer->publish(name, v).ok());
  }
  void open() { ASSERT_EQ(tokenwell_open(dir.path().c_str(), &tw), TOKENWELL_OK); }
};

TEST_F(SegmentKeysets, SignAndVerifyThroughTheSegment) {
  publish_keyset("sessions", jwks_of({"ES256", "RS256"}), private_jwk("ES256"));
  publish_keyset("remote", jwks_of({"RS256"}), "");
  publish_keyset("hmac", R"({"keys":[]})", private_jwk("HS256"));
  SlotValue cred;
  cred.secret = "token";
  ASSERT_TRUE(writer->publish("redis", cred).ok());
  open();

  char token[4096], claims[4096];
  size_t len = 0;
  ASSERT_EQ(tokenwell_jwt_sign(tw, "sessions", R"({"sub":"alice"})", 60, token, sizeof token, &len), TOKENWELL_OK);
  EXPECT_EQ(tokenwell_jwt_verify(tw, "sessions", token, nullptr, claims, sizeof claims, &len), TOKENWELL_OK);
  EXPECT_EQ(nlohmann::json::parse(std::string(claims, len))["sub"], "alice");
  // A token of the sessions key is unknown to another keyset.
  EXPECT_EQ(tokenwell_jwt_verify(tw, "remote", token, nullptr, nullptr, 0, nullptr), TOKENWELL_JWT_EKID_UNKNOWN);
  EXPECT_EQ(tokenwell_jwt_sign(tw, "remote", "{}", 60, token, sizeof token, &len), TOKENWELL_JWT_ENO_SIGNING_KEY);

  // HS256: the public JWKS cannot hold the key; the signing key verifies.
  ASSERT_EQ(tokenwell_jwt_sign(tw, "hmac", R"({"sub":"bob"})", 60, token, sizeof token, &len), TOKENWELL_OK);
  EXPECT_EQ(tokenwell_jwt_verify(tw, "hmac", token, nullptr, nullptr, 0, nullptr), TOKENWELL_OK);

  EXPECT_EQ(tokenwell_jwt_sign(tw, "redis", "{}", 60, token, sizeof token, &len), TOKENWELL_ENOTFOUND);
  EXPECT_EQ(tokenwell_jwt_verify(tw, "nope", token, nullptr, nullptr, 0, nullptr), TOKENWELL_ENOTFOUND);
}

TEST_F(SegmentKeysets, RotationIsSeenWithoutReopening) {
  publish_keyset("sessions", jwks_of({"ES256"}), private_jwk("ES256"));
  open();
  char token[4096];
  size_t len = 0;
  ASSERT_EQ(tokenwell_jwt_sign(tw, "sessions", "{}", 60, token, sizeof token, &len), TOKENWELL_OK);
  const std::string old_token(token, len);
  // Rotate: the new key signs, the old one still verifies while published.
  publish_keyset("sessions", jwks_of({"ES256", "EdDSA"}), private_jwk("EdDSA"));
  ASSERT_EQ(tokenwell_jwt_sign(tw, "sessions", "{}", 60, token, sizeof token, &len), TOKENWELL_OK);
  EXPECT_EQ(part(std::string(token, len), 0)["kid"], "ed-1");
  EXPECT_EQ(tokenwell_jwt_verify(tw, "sessions", old_token.c_str(), nullptr, nullptr, 0, nullptr), TOKENWELL_OK);
  // Retired: the old key left the JWKS, its tokens stop verifying.
  publish_keyset("sessions", jwks_of({"EdDSA"}), private_jwk("EdDSA"));
  EXPECT_EQ(tokenwell_jwt_verify(tw, "sessions", old_token.c_str(), nullptr, nullptr, 0, nullptr),
            TOKENWELL_JWT_EKID_UNKNOWN);
}

TEST_F(SegmentKeysets, AnHmacKeyReplacedUnderTheSameKidIsSeenAtOnce) {
  // The JWKS text stays `{"keys":[]}`: only the signing key changes, and the
  // verifier's cache of parsed keys must notice.
  publish_keyset("hmac", R"({"keys":[]})", private_jwk("HS256"));
  open();
  char token[4096];
  size_t len = 0;
  ASSERT_EQ(tokenwell_jwt_sign(tw, "hmac", "{}", 60, token, sizeof token, &len), TOKENWELL_OK);
  ASSERT_EQ(tokenwell_jwt_verify(tw, "hmac", token, nullptr, nullptr, 0, nullptr), TOKENWELL_OK);
  nlohmann::json replaced = test_keys()["HS256"];
  replaced["k"] = b64(std::string(32, 'z'));
  publish_keyset("hmac", R"({"keys":[]})", replaced.dump());
  EXPECT_EQ(tokenwell_jwt_verify(tw, "hmac", token, nullptr, nullptr, 0, nullptr), TOKENWELL_JWT_ESIGNATURE);
}

TEST_F(SegmentKeysets, ThreadsVerifyWhileTheKeysetRotates) {
  // Every published version of the keyset holds es-1, so every verify must
  // succeed whatever version a thread's snapshot (and cache) sees.
  const std::string with_rsa = jwks_of({"ES256", "RS256"});
  const std::string with_eddsa = jwks_of({"EdDSA", "ES256"});
  const std::string es_key = private_jwk("ES256");
  publish_keyset("sessions", with_rsa, es_key);
  open();
  char buf[4096];
  size_t len = 0;
  ASSERT_EQ(tokenwell_jwt_sign(tw, "sessions", "{}", 600, buf, sizeof buf, &len), TOKENWELL_OK);
  const std::string token(buf, len);

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i)
        if (tokenwell_jwt_verify(tw, "sessions", token.c_str(), nullptr, nullptr, 0, nullptr) != TOKENWELL_OK)
          failures.fetch_add(1);
    });
  for (int i = 0; i < 50; ++i) publish_keyset("sessions", i % 2 ? with_rsa : with_eddsa, es_key);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace tw::test
