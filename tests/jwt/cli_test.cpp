// `tokenwell jwt sign`, `tokenwell jwt verify` and `tokenwell jwks`: the real
// binary over a real segment holding keysets in the contract format, with the
// exit codes of DESIGN.md.
#include <gtest/gtest.h>

#include <fstream>

#include "cli/cli_test_util.hpp"
#include "jwt_test_util.hpp"

namespace tw::test {
namespace {

class JwtCli : public CliTest {
 protected:
  void SetUp() override {
    publish_keyset("sessions", jwks_of({"ES256", "RS256"}), private_jwk("ES256"));
    publish_keyset("remote", jwks_of({"RS256"}), "");
    publish("redis", credential("oid", "secret-token"));
  }
  void publish_keyset(const std::string& name, const std::string& jwks, const std::string& key,
                      bool has_value = true) {
    SlotValue v;
    v.kind = SlotKind::keyset;
    v.public_data = jwks;
    v.secret = key;
    v.has_value = has_value;
    publish(name, v);
  }
  std::string sign(const std::string& claims = R"({"sub":"alice"})") {
    const Outcome o = tokenwell({"jwt", "sign", "sessions", "--claims", claims});
    EXPECT_EQ(o.exit_code, 0) << o.err;
    return o.out.empty() ? o.out : o.out.substr(0, o.out.size() - 1);
  }
};

TEST_F(JwtCli, SignPrintsACompactJwsThatVerify) {
  const std::string token = sign(R"({"sub":"alice","aud":"api","iss":"me"})");
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2);
  const Outcome o = tokenwell({"jwt", "verify", "sessions", token, "--aud", "api", "--iss", "me"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out.back(), '\n');
  const auto claims = nlohmann::json::parse(o.out);
  EXPECT_EQ(claims["sub"], "alice");
  EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), 300);  // default 5m
  EXPECT_TRUE(o.err.empty());
}

TEST_F(JwtCli, TtlSetsExp) {
  const Outcome s = tokenwell({"jwt", "sign", "sessions", "--claims", "{}", "--ttl", "90s"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const Outcome v = tokenwell({"jwt", "verify", "sessions", s.out.substr(0, s.out.size() - 1)});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  const auto claims = nlohmann::json::parse(v.out);
  EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), 90);
}

TEST_F(JwtCli, InvalidTokensExitOneWithTheReasonAndNeverTheToken) {
  const std::string token = sign(R"({"sub":"alice","aud":"api"})");
  Outcome o = tokenwell({"jwt", "verify", "sessions", token, "--aud", "other"});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("invalid token: aud"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find(token), std::string::npos);
  EXPECT_TRUE(o.out.empty());

  const std::string none = b64(R"({"alg":"none"})") + "." + b64(R"({"exp":9999999999})") + ".";
  o = tokenwell({"jwt", "verify", "sessions", none});
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("\"none\""), std::string::npos) << o.err;

  o = tokenwell({"jwt", "verify", "remote", token});  // signed by a key remote does not have
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("kid"), std::string::npos) << o.err;

  o = tokenwell({"jwt", "verify", "sessions", "garbage"});
  EXPECT_EQ(o.exit_code, 1);
}

// "-": the token from standard input, never on the command line where any
// user reads it in /proc/PID/cmdline.
TEST_F(JwtCli, VerifyReadsTheTokenFromStdinWithDash) {
  const std::string token = sign(R"({"sub":"alice","aud":"api"})");
  const auto verify_stdin = [&](const std::string& input, std::vector<std::string> extra = {}) {
    const std::string path = (dir.path() / "token-input").string();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << input;
    std::vector<std::string> args = {"jwt", "verify", "sessions", "-"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Process(cli_args(args), {}, path).finish();
  };
  for (const std::string& input : {token, token + "\n", token + "\r\n"}) {
    const Outcome o = verify_stdin(input, {"--aud", "api"});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    EXPECT_EQ(nlohmann::json::parse(o.out)["sub"], "alice");
  }
  // Invalid tokens on stdin: exit 1 with the reason, as on the command line.
  Outcome o = verify_stdin(token, {"--aud", "other"});
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_NE(o.err.find("invalid token: aud"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find(token), std::string::npos);
  o = verify_stdin(token + "\n\n");  // one newline is dropped, not any whitespace
  EXPECT_EQ(o.exit_code, 1) << o.err;
  o = verify_stdin("");
  EXPECT_EQ(o.exit_code, 1) << o.err;
  o = verify_stdin(std::string(TOKENWELL_JWT_TOKEN_MAX * 4, 'a'));  // refused without reading it all
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_NE(o.err.find("invalid token"), std::string::npos) << o.err;
}

TEST_F(JwtCli, JwksPrintsThePublicKeysOnly) {
  const Outcome o = tokenwell({"jwks", "sessions"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto jwks = nlohmann::json::parse(o.out);
  ASSERT_EQ(jwks["keys"].size(), 2u);
  for (const auto& k : jwks["keys"]) EXPECT_FALSE(k.contains("d")) << k;
  EXPECT_EQ(jwks["keys"][0]["kid"], "es-1");
}

TEST_F(JwtCli, ExitCodesOfTheContract) {
  // 3: unknown name, and a credential is not a keyset.
  Outcome o = tokenwell({"jwks", "nope"});
  EXPECT_EQ(o.exit_code, 3) << o.err;
  o = tokenwell({"jwt", "verify", "nope", "a.b.c"});
  EXPECT_EQ(o.exit_code, 3) << o.err;
  o = tokenwell({"jwt", "sign", "redis", "--claims", "{}"});
  EXPECT_EQ(o.exit_code, 3) << o.err;
  EXPECT_NE(o.err.find("is a credential, not a keyset"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("secret-token"), std::string::npos);
  o = tokenwell({"jwks", "redis"});
  EXPECT_EQ(o.exit_code, 3) << o.err;

  // 5: no private key in the segment and no agent to sign (this segment has
  // none: a verify-only keyset with an agent is 4, keysets_integration_test).
  o = tokenwell({"jwt", "sign", "remote", "--claims", "{}"});
  EXPECT_EQ(o.exit_code, 5) << o.err;
  EXPECT_NE(o.err.find("has no private key in the segment, and the agent does not answer"), std::string::npos)
      << o.err;

  // 4: no value yet.
  publish_keyset("pending", "", "", /*has_value=*/false);
  o = tokenwell({"jwks", "pending"});
  EXPECT_EQ(o.exit_code, 4) << o.err;
  o = tokenwell({"jwt", "sign", "pending", "--claims", "{}"});
  EXPECT_EQ(o.exit_code, 4) << o.err;

  // 2: usage.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"jwt"},
           {"jwt", "frobnicate"},
           {"jwt", "sign", "sessions"},
           {"jwt", "sign", "sessions", "--claims", "{}", "--ttl", "5x"},
           {"jwt", "sign", "sessions", "--claims", "{}", "--ttl", "0"},
           {"jwt", "sign", "sessions", "--claims", "not json"},
           {"jwt", "sign", "sessions", "--claims", R"({"a":1,"a":2})"},
           {"jwt", "verify", "sessions"},
           {"jwt", "verify", "sessions", "a", "b"},
           {"jwks"},
       }) {
    o = tokenwell(args);
    EXPECT_EQ(o.exit_code, 2) << args.back() << ": " << o.err;
  }
}

TEST(JwtCliNoSegment, ExitsFive) {
  TempDir empty;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"jwks", "k"}, {"jwt", "sign", "k", "--claims", "{}"}, {"jwt", "verify", "k", "a.b.c"}}) {
    std::vector<std::string> argv = {TOKENWELL_CLI, "--dir", empty.path().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    const Outcome o = Process(argv).finish();
    EXPECT_EQ(o.exit_code, 5) << o.err;
  }
}

}  // namespace
}  // namespace tw::test
