// Interop with an independent implementation, PyJWT (the test venv's): tokens
// `tokenwell jwt sign` makes verify in PyJWT with the JWKS `tokenwell jwks`
// prints, and tokens PyJWT signs verify with `tokenwell jwt verify`; for
// every algorithm of the library (ES/RS/PS/HS 256, 384, 512 and EdDSA), over a
// real segment.
#include <gtest/gtest.h>

#include <fstream>

#include "cli/cli_test_util.hpp"
#include "jwt_test_util.hpp"

namespace tw::test {
namespace {

class PyJwtInterop : public CliTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string write_file(const std::string& name, const std::string& text) {
    const std::string path = (dir.path() / name).string();
    std::ofstream(path) << text;
    return path;
  }
  Outcome pyjwt(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {TOKENWELL_PYTHON3, TOKENWELL_PYJWT_INTEROP};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process(argv).finish();
  }
  void publish_keyset(const std::string& alg) {
    // Verify-only members of other keys too, as a rotating keyset has.
    const std::string jwks = alg.starts_with("HS") ? R"({"keys":[]})" : jwks_of({alg, "ES256" == alg ? "EdDSA" : "ES256"});
    const std::string key = private_jwk(alg);  // SlotValue holds views
    SlotValue v;
    v.kind = SlotKind::keyset;
    v.public_data = jwks;
    v.secret = key;
    publish("keys", v);
  }
};

TEST_P(PyJwtInterop, TokenwellSignsPyJwtVerifies) {
  const std::string alg = GetParam();
  publish_keyset(alg);
  const Outcome signed_ = tokenwell({"jwt", "sign", "keys", "--claims", R"({"sub":"alice","n":1})", "--ttl", "5m"});
  ASSERT_EQ(signed_.exit_code, 0) << signed_.err;
  const std::string token = signed_.out.substr(0, signed_.out.size() - 1);

  // PyJWT gets the JWKS as tokenwell publishes it (HS256: the shared key).
  std::string jwks;
  if (alg.starts_with("HS")) {
    jwks = nlohmann::json{{"keys", {test_keys()[alg]}}}.dump();
  } else {
    const Outcome published = tokenwell({"jwks", "keys"});
    ASSERT_EQ(published.exit_code, 0) << published.err;
    jwks = published.out;
  }
  const Outcome verified = pyjwt({"verify", write_file("jwks.json", jwks), token});
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  const auto claims = nlohmann::json::parse(verified.out);
  EXPECT_EQ(claims["sub"], "alice");
  EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), 300);
}

TEST_P(PyJwtInterop, PyJwtSignsTokenwellVerifies) {
  const std::string alg = GetParam();
  publish_keyset(alg);
  const std::string claims = R"({"sub":"bob","aud":"api","exp":)" + std::to_string(now_s() + 300) + "}";
  const Outcome signed_ = pyjwt({"sign", write_file("key.json", private_jwk(alg)), claims});
  ASSERT_EQ(signed_.exit_code, 0) << signed_.err;
  const std::string token = signed_.out.substr(0, signed_.out.size() - 1);

  const Outcome verified = tokenwell({"jwt", "verify", "keys", token, "--aud", "api"});
  ASSERT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_EQ(nlohmann::json::parse(verified.out), nlohmann::json::parse(claims));

  const Outcome wrong_aud = tokenwell({"jwt", "verify", "keys", token, "--aud", "other"});
  EXPECT_EQ(wrong_aud.exit_code, 1);
}

INSTANTIATE_TEST_SUITE_P(Jwt, PyJwtInterop,
                         ::testing::Values("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384",
                                           "PS512", "EdDSA", "HS256", "HS384", "HS512"));

}  // namespace
}  // namespace tw::test
