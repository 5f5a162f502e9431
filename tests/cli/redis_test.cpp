// The REDISCLI_AUTH contract against a real redis-server with an ACL user:
// redis-cli takes the variable as the password, so `--user` must name the
// user, and `tokenwell exec` makes both available.
#include <unistd.h>

#include "cli/cli_test_util.hpp"

namespace tw::test {
namespace {

class RedisCli : public CliTest {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/redis-server", X_OK) != 0 || ::access("/usr/bin/redis-cli", X_OK) != 0)
      GTEST_SKIP() << "redis-server and redis-cli are needed (scripts/install-deps.sh)";
    // Only the ACL user exists: the default user is off, so a password alone fails.
    server = std::make_unique<Process>(std::vector<std::string>{
        "/usr/bin/redis-server", "--port", "0", "--unixsocket", socket, "--save", "",
        "--appendonly", "no", "--user", "default", "off", "--user", "oid-1", "on",
        ">token-1", "~*", "&*", "+@all"});
    ASSERT_TRUE(server->read_stdout_until("ready to accept connections"));
    publish("redis", credential("oid-1", "token-1"));
  }
  const std::string socket = (dir.path() / "redis.sock").string();
  std::unique_ptr<Process> server;
};

TEST_F(RedisCli, AuthenticatesWithUserFromTheEnvironment) {
  const Outcome o = tokenwell({"exec", "redis", "--", "sh", "-c",
                               "exec redis-cli -s \"$0\" --user \"$TOKENWELL_USERNAME\" ACL WHOAMI",
                               socket});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "oid-1\n");
}

TEST_F(RedisCli, PasswordAloneIsNotEnoughForAnAclUser) {
  const Outcome o = tokenwell({"exec", "redis", "--", "redis-cli", "-s", socket, "ACL", "WHOAMI"});
  EXPECT_NE(o.out.find("NOAUTH"), std::string::npos) << o.out << o.err;
}

}  // namespace
}  // namespace tw::test
