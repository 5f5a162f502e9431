// `tokenwell exec NAME -- CMD`: CMD replaces the CLI with the credential in
// TOKENWELL_USERNAME, TOKENWELL_TOKEN and REDISCLI_AUTH; its status is ours.
#include <signal.h>
#include <sys/stat.h>

#include "cli/cli_test_util.hpp"

namespace tw::test {
namespace {

using Exec = CliTest;

TEST_F(Exec, SetsTheCredentialVariables) {
  publish("redis", credential("oid-1", "token-1"));
  const Outcome o = tokenwell(
      {"exec", "redis", "--", "sh", "-c",
       R"(printf '%s|%s|%s' "$TOKENWELL_USERNAME" "$TOKENWELL_TOKEN" "$REDISCLI_AUTH")"},
      {{"TOKENWELL_TOKEN", "stale"}, {"REDISCLI_AUTH", "stale"}});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "oid-1|token-1|token-1");
}

TEST_F(Exec, ReplacesItselfWithTheCommand) {
  publish("redis", credential("oid-1", "token-1"));
  Process p(cli_args({"exec", "redis", "--", "sh", "-c", "echo $$"}));
  const pid_t pid = p.pid();
  EXPECT_EQ(p.finish().out, std::to_string(pid) + "\n");
}

TEST_F(Exec, PassesTheCommandLineVerbatim) {
  publish("redis", credential("oid-1", "token-1"));
  const Outcome o =
      tokenwell({"exec", "redis", "--", "printf", "%s|", "a b", "--help", "--dir", "--", ""});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "a b|--help|--dir|--||");
}

TEST_F(Exec, ExitStatusIsTheCommands) {
  publish("redis", credential("oid-1", "token-1"));
  EXPECT_EQ(tokenwell({"exec", "redis", "--", "sh", "-c", "exit 7"}).exit_code, 7);
  const Outcome killed = tokenwell({"exec", "redis", "--", "sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(killed.exit_code, -1);
  EXPECT_EQ(killed.signal, SIGTERM);
}

TEST_F(Exec, UnknownNameIs3AndRunsNothing) {
  publish("redis", credential("oid-1", "token-1"));
  const Outcome o = tokenwell({"exec", "nope", "--", "echo", "ran"});
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "tokenwell: no credential named 'nope' in " + segment_path() + "\n");
}

TEST_F(Exec, ExpiredIs4AndRunsNothing) {
  publish("redis", credential("oid-1", "stale-secret", now_s() - 1));
  const Outcome o = tokenwell({"exec", "redis", "--", "echo", "ran"});
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err.find("stale-secret"), std::string::npos);
}

TEST_F(Exec, MissingSegmentIs5AndRunsNothing) {
  const Outcome o = tokenwell({"exec", "redis", "--", "echo", "ran"});
  EXPECT_EQ(o.exit_code, 5);
  EXPECT_EQ(o.out, "");
}

TEST_F(Exec, CommandNotFoundIs127) {
  publish("redis", credential("oid-1", "token-1"));
  const Outcome o = tokenwell({"exec", "redis", "--", "tokenwell-no-such-command"});
  EXPECT_EQ(o.exit_code, 127);
  EXPECT_EQ(o.err,
            "tokenwell: exec: cannot run 'tokenwell-no-such-command': No such file or directory\n");
}

TEST_F(Exec, CommandNotExecutableIs126) {
  publish("redis", credential("oid-1", "token-1"));
  const std::string script = (dir.path() / "not-executable").string();
  std::ofstream(script) << "#!/bin/sh\necho ran\n";
  ::chmod(script.c_str(), 0644);
  const Outcome o = tokenwell({"exec", "redis", "--", script});
  EXPECT_EQ(o.exit_code, 126);
  EXPECT_EQ(o.out, "");
  EXPECT_NE(o.err.find("Permission denied"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace tw::test
