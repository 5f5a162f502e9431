// Usage errors exit 2 with one line on stderr and nothing on stdout; --help
// and --version exit 0. (jwt and jwks: tests/jwt/cli_test.cpp.)
#include "cli/cli_test_util.hpp"
#include "tokenwell/tokenwell.h"

namespace tw::test {
namespace {

class Usage : public CliTest, public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(Usage, Exits2WithOneLineOnStderr) {
  // A valid credential is there: only the arguments can be wrong.
  publish("redis", credential("oid-1", "token-1"));
  const Outcome o = tokenwell(GetParam());
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.out, "");
  EXPECT_TRUE(o.err.starts_with("tokenwell: ")) << o.err;
  EXPECT_TRUE(o.err.ends_with(" (see tokenwell --help)\n")) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.err.find("token-1"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Cli, Usage,
    ::testing::Values(std::vector<std::string>{}, std::vector<std::string>{"bogus"},
                      std::vector<std::string>{"get"}, std::vector<std::string>{"get", "redis", "x"},
                      std::vector<std::string>{"get", ""},
                      std::vector<std::string>{"get", std::string(65, 'a')},
                      std::vector<std::string>{"get", "redis", "--field", "secret"},
                      std::vector<std::string>{"get", "redis", "--field"},
                      std::vector<std::string>{"get", "redis", "--json", "--field", "token"},
                      std::vector<std::string>{"get", "redis", "--json=yes"},
                      std::vector<std::string>{"get", "redis", "--bogus"},
                      std::vector<std::string>{"get", "redis", "--dir"},
                      std::vector<std::string>{"get", "redis", "--dir="},
                      std::vector<std::string>{"wait", "redis", "--after", "abc"},
                      std::vector<std::string>{"wait", "redis", "--after", "-1"},
                      std::vector<std::string>{"wait", "redis", "--timeout", "-1"},
                      std::vector<std::string>{"wait", "redis", "--timeout", "soon"},
                      std::vector<std::string>{"wait", "redis", "--timeout", "inf"},
                      std::vector<std::string>{"wait", std::string(65, 'a'), "--timeout", "0"},
                      std::vector<std::string>{"list", "redis"},
                      std::vector<std::string>{"exec"}, std::vector<std::string>{"exec", "redis"},
                      std::vector<std::string>{"exec", "redis", "env"},
                      std::vector<std::string>{"exec", "redis", "--"},
                      std::vector<std::string>{"exec", "--", "env"},
                      std::vector<std::string>{"jwt", "keys"},
                      std::vector<std::string>{"jwks"}));

TEST_F(CliTest, HelpDescribesCommandsAndExitCodes) {
  for (const auto& args : {std::vector<std::string>{"--help"}, {"get", "--help"}, {"-h"}}) {
    const Outcome o = tokenwell(args);
    EXPECT_EQ(o.exit_code, 0);
    EXPECT_EQ(o.err, "");
    EXPECT_TRUE(o.out.starts_with("usage: tokenwell [--dir DIR] COMMAND")) << o.out;
    for (const char* text : {"get NAME", "wait NAME", "list", "status [--json] [--watch]", "exec NAME -- CMD", "exit status",
                             "--timeout passed", "REDISCLI_AUTH"})
      EXPECT_NE(o.out.find(text), std::string::npos) << text;
  }
}

TEST_F(CliTest, StatusTakesNoNameAndOnlyItsOptions) {
  for (const auto& args : {std::vector<std::string>{"status", "redis"}, {"status", "--jsn"}}) {
    const Outcome o = tokenwell(args);
    EXPECT_EQ(o.exit_code, 2) << o.err;
    EXPECT_EQ(o.out, "");
  }
}

TEST_F(CliTest, VersionNamesTheCliAndTheLibrary) {
  const Outcome o = tokenwell({"--version"});
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.out, std::string("tokenwell ") + TOKENWELL_VERSION_STRING + " (libtokenwell " +
                       TOKENWELL_VERSION_STRING + ")\n");
}

}  // namespace
}  // namespace tw::test
