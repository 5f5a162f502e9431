// tokenwell/hiredis.h against a real redis-server whose ACL user's password is
// the published token: AUTH with the current credential, re-AUTH only when
// the generation changed, and clear errors when Redis refuses.
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli/cli_test_util.hpp"
#include "tokenwell/hiredis.h"

namespace tw::test {
namespace {

class HiredisHelper : public CliTest {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/redis-server", X_OK) != 0)
      GTEST_SKIP() << "redis-server is needed (scripts/install-deps.sh)";
    server = std::make_unique<Process>(std::vector<std::string>{
        "/usr/bin/redis-server", "--port", "0", "--unixsocket", socket, "--save", "",
        "--appendonly", "no", "--user", "default", "off", "--user", "oid-1", "on", ">token-1",
        "~*", "&*", "+@all"});
    ASSERT_TRUE(server->read_stdout_until("ready to accept connections"));
    publish("redis", credential("oid-1", "token-1"));
    ASSERT_EQ(tokenwell_open(dir.path().c_str(), &tw), TOKENWELL_OK);
    c = redisConnectUnix(socket.c_str());
    ASSERT_TRUE(c != nullptr && c->err == 0);
    ASSERT_EQ(tokenwell_hiredis_init(&auth, tw, "redis"), TOKENWELL_OK);
  }
  void TearDown() override {
    if (c) redisFree(c);
    tokenwell_close(tw);
  }

  // A command on a second, separately authenticated connection (the operator).
  std::string admin(const std::string& command) {
    redisContext* a = redisConnectUnix(socket.c_str());
    std::string out;
    auto* r = static_cast<redisReply*>(redisCommand(a, "AUTH oid-1 %s", current_password.c_str()));
    freeReplyObject(r);
    std::vector<std::string> words;
    for (std::size_t at = 0; at < command.size();) {
      const std::size_t end = std::min(command.find(' ', at), command.size());
      words.push_back(command.substr(at, end - at));
      at = end + 1;
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& w : words) {
      argv.push_back(w.data());
      lens.push_back(w.size());
    }
    r = static_cast<redisReply*>(
        redisCommandArgv(a, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r && r->str) out = r->str;
    if (r) freeReplyObject(r);
    redisFree(a);
    return out;
  }

  // Rotates the server's password and the published token together.
  void rotate(const std::string& token) {
    admin("ACL SETUSER oid-1 >" + token + " <" + current_password);
    current_password = token;
    publish("redis", credential("oid-1", token));
  }

  std::string whoami() {
    auto* r = static_cast<redisReply*>(tokenwell_hiredis_command(&auth, c, "ACL WHOAMI"));
    std::string out = r && r->str ? r->str : "(no reply)";
    if (r) freeReplyObject(r);
    return out;
  }

  long auth_calls() {
    const std::string info = admin("INFO commandstats");
    const auto at = info.find("cmdstat_auth:calls=");
    return at == std::string::npos ? 0 : std::stol(info.substr(at + 19));
  }

  const std::string socket = (dir.path() / "redis.sock").string();
  std::string current_password = "token-1";
  std::unique_ptr<Process> server;
  ::tokenwell* tw = nullptr;
  redisContext* c = nullptr;
  tokenwell_hiredis auth{};
};

TEST_F(HiredisHelper, AuthenticatesWithTheCurrentCredential) {
  EXPECT_EQ(tokenwell_hiredis_auth(&auth, c), TOKENWELL_OK);
  EXPECT_EQ(auth.auths, 1u);
  EXPECT_EQ(whoami(), "oid-1");
}

TEST_F(HiredisHelper, CommandAuthenticatesAFreshConnectionFirst) {
  EXPECT_EQ(whoami(), "oid-1");
  EXPECT_EQ(auth.auths, 1u);
}

TEST_F(HiredisHelper, ReAuthenticatesOnlyWhenTheGenerationChanged) {
  ASSERT_EQ(tokenwell_hiredis_auth(&auth, c), TOKENWELL_OK);
  const long before = auth_calls();
  int reauthed = -1;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(tokenwell_hiredis_check(&auth, c, &reauthed), TOKENWELL_OK);
    EXPECT_EQ(reauthed, 0);
  }
  EXPECT_EQ(auth_calls(), before + 1);  // only the admin connection's own AUTH

  rotate("token-2");
  EXPECT_EQ(tokenwell_hiredis_check(&auth, c, &reauthed), TOKENWELL_OK);
  EXPECT_EQ(reauthed, 1);
  EXPECT_EQ(auth.auths, 2u);
  // The old password is gone: a connection that did not re-AUTH with token-2
  // could not authenticate again, this one did.
  EXPECT_EQ(whoami(), "oid-1");
}

TEST_F(HiredisHelper, RefusedAuthIsReportedWithRedisText) {
  publish("redis", credential("oid-1", "not-the-password"));
  EXPECT_EQ(tokenwell_hiredis_auth(&auth, c), TOKENWELL_HIREDIS_EAUTH);
  EXPECT_NE(std::string(auth.error).find("WRONGPASS"), std::string::npos) << auth.error;
  EXPECT_EQ(std::string(auth.error).find("not-the-password"), std::string::npos);
  EXPECT_STREQ(tokenwell_hiredis_strerror(TOKENWELL_HIREDIS_EAUTH), "Redis refused the AUTH");
}

TEST_F(HiredisHelper, UnknownCredentialAndBadArgumentsAreTokenwellCodes) {
  tokenwell_hiredis other{};
  ASSERT_EQ(tokenwell_hiredis_init(&other, tw, "nope"), TOKENWELL_OK);
  EXPECT_EQ(tokenwell_hiredis_auth(&other, c), TOKENWELL_ENOTFOUND);
  EXPECT_EQ(tokenwell_hiredis_check(&other, c, nullptr), TOKENWELL_ENOTFOUND);
  EXPECT_EQ(tokenwell_hiredis_init(&other, nullptr, "redis"), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_hiredis_auth(nullptr, c), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_hiredis_check(&auth, nullptr, nullptr), TOKENWELL_EINVAL);
  EXPECT_EQ(tokenwell_hiredis_command(&other, c, "PING"), nullptr);  // not sent
}

TEST_F(HiredisHelper, ATokenLargerThanTheStackBufferIsReadIntoTheHeap) {
  ASSERT_EQ(tokenwell_hiredis_auth(&auth, c), TOKENWELL_OK);
  rotate(std::string(20000, 'k'));  // the helper reads 8 KiB on the stack first
  int reauthed = -1;
  EXPECT_EQ(tokenwell_hiredis_check(&auth, c, &reauthed), TOKENWELL_OK);
  EXPECT_EQ(reauthed, 1);
  EXPECT_EQ(whoami(), "oid-1");
}

TEST_F(HiredisHelper, AKeysetIsNotACredential) {
  SlotValue keys;
  keys.kind = SlotKind::keyset;
  keys.secret = R"({"kty":"oct","k":"private"})";
  keys.public_data = R"({"keys":[]})";
  publish("sessions", keys);
  tokenwell_hiredis other{};
  ASSERT_EQ(tokenwell_hiredis_init(&other, tw, "sessions"), TOKENWELL_OK);
  EXPECT_EQ(tokenwell_hiredis_auth(&other, c), TOKENWELL_ENOTFOUND);
  EXPECT_EQ(tokenwell_hiredis_check(&other, c, nullptr), TOKENWELL_ENOTFOUND);
}

TEST(HiredisCodes, AreInTheHelpersRangeWithTheirOwnText) {
  static_assert(TOKENWELL_HIREDIS_EAUTH >= 200 && TOKENWELL_HIREDIS_EAUTH <= 299);
  static_assert(TOKENWELL_HIREDIS_EIO >= 200 && TOKENWELL_HIREDIS_EIO <= 299);
  EXPECT_STREQ(tokenwell_hiredis_strerror(TOKENWELL_HIREDIS_EIO), "Redis connection failed");
  EXPECT_STREQ(tokenwell_hiredis_strerror(TOKENWELL_ENOVALUE), tokenwell_strerror(TOKENWELL_ENOVALUE));
  // The core library's text for this range points here.
  EXPECT_NE(std::string(tokenwell_strerror(TOKENWELL_HIREDIS_EAUTH)).find("tokenwell_hiredis_strerror"),
            std::string::npos);
}

TEST_F(HiredisHelper, ExpiredCredentialKeepsTheCurrentAuthentication) {
  ASSERT_EQ(tokenwell_hiredis_auth(&auth, c), TOKENWELL_OK);
  rotate("token-3");
  publish("redis", credential("oid-1", "token-3", now_s() - 10));  // published, already expired
  int reauthed = -1;
  EXPECT_EQ(tokenwell_hiredis_check(&auth, c, &reauthed), TOKENWELL_ENOVALUE);
  EXPECT_EQ(reauthed, 0);
  EXPECT_EQ(whoami(), "oid-1");  // still authenticated with token-1's session
}

}  // namespace
}  // namespace tw::test
