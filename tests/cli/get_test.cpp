// `tokenwell get`, the global options, and how every failure to read maps to
// an exit code and one line on stderr that never carries a secret.
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.hpp"
#include "segment_format.h"
#include "tokenwell/tokenwell.h"

namespace tw::test {
namespace {

using Get = CliTest;

TEST_F(Get, PrintsTheTokenAndANewline) {
  publish("redis", credential("oid-1", "token-1"));
  const Outcome o = tokenwell({"get", "redis"});
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.out, "token-1\n");
  EXPECT_EQ(o.err, "");
}

TEST_F(Get, FieldSelectsTokenOrUsername) {
  publish("redis", credential("oid-1", "token-1"));
  EXPECT_EQ(tokenwell({"get", "redis", "--field", "username"}).out, "oid-1\n");
  EXPECT_EQ(tokenwell({"get", "redis", "--field=token"}).out, "token-1\n");
}

TEST_F(Get, JsonHasTheContractFieldsInOrder) {
  const std::int64_t expires = now_s() + 600;
  const std::uint64_t gen = publish("redis", credential("oid-1", "token-1", expires));
  const Outcome o = tokenwell({"get", "redis", "--json"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  ASSERT_EQ(o.out.back(), '\n');
  const auto json = nlohmann::ordered_json::parse(o.out);
  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"name", "username", "token", "expires_at", "generation"}));
  EXPECT_EQ(json["name"], "redis");
  EXPECT_EQ(json["username"], "oid-1");
  EXPECT_EQ(json["token"], "token-1");
  EXPECT_EQ(json["expires_at"], expires);
  EXPECT_EQ(json["generation"], gen);
}

TEST_F(Get, JsonEscapesStrings) {
  const std::string token = "a\"b\\c\nd\te\x01f/\xc3\xa9";
  publish("redis", credential("user \"x\"", token));
  const Outcome o = tokenwell({"get", "redis", "--json"});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(std::count(o.out.begin(), o.out.end(), '\n'), 1) << "one line of JSON";
  const auto json = nlohmann::json::parse(o.out);
  EXPECT_EQ(json["token"], token);
  EXPECT_EQ(json["username"], "user \"x\"");
}

TEST_F(Get, JsonRefusesATokenThatIsNotUtf8) {
  publish("redis", credential("oid-1", "tok\xff\xfe-secret"));
  const Outcome o = tokenwell({"get", "redis", "--json"});
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.out, "");
  EXPECT_NE(o.err.find("not valid UTF-8"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("secret"), std::string::npos) << "no secret on stderr";
  // The bytes themselves are still available.
  EXPECT_EQ(tokenwell({"get", "redis"}).out, "tok\xff\xfe-secret\n");
}

TEST_F(Get, TokenLargerThanTheFirstBufferIsReadWhole) {
  const std::string token(20000, 'k');
  publish("redis", credential("oid-1", token));
  const Outcome o = tokenwell({"get", "redis"});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, token + "\n");
}

TEST_F(Get, UnknownNameIs3) {
  publish("redis", credential("oid-1", "token-1"));
  const Outcome o = tokenwell({"get", "nope"});
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "tokenwell: no credential named 'nope' in " + segment_path() + "\n");
}

TEST_F(Get, KeysetIsNotACredential) {
  SlotValue keys;
  keys.kind = SlotKind::keyset;
  keys.secret = "private-key-bytes";
  keys.public_data = R"({"keys":[]})";
  publish("sessions", keys);
  const Outcome o = tokenwell({"get", "sessions"});
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "tokenwell: 'sessions' in " + segment_path() + " is a keyset, not a credential\n");
}

TEST_F(Get, ExpiredIs4WithoutTheToken) {
  const std::int64_t expired = now_s() - 60;
  publish("redis", credential("oid-1", "stale-secret", expired));
  const Outcome o = tokenwell({"get", "redis"});
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_EQ(o.out, "");
  EXPECT_NE(o.err.find("credential 'redis' in " + segment_path() + " expired at "), std::string::npos)
      << o.err;
  EXPECT_EQ(o.err.find("stale-secret"), std::string::npos);
}

TEST_F(Get, PendingIs4) {
  SlotValue pending = credential("oid-1", "");
  pending.has_value = false;
  publish("redis", pending);
  const Outcome o = tokenwell({"get", "redis"});
  EXPECT_EQ(o.exit_code, 4);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "tokenwell: credential 'redis' in " + segment_path() +
                       " has no value yet (the agent has not fetched it)\n");
}

TEST_F(Get, MissingDirectoryIs5) {
  const std::string missing = (dir.path() / "nope").string();
  const Outcome o = Process({TOKENWELL_CLI, "--dir", missing, "get", "redis"}).finish();
  EXPECT_EQ(o.exit_code, 5);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "tokenwell: no directory '" + missing + "' (set --dir or TOKENWELL_DIR)\n");
}

TEST_F(Get, MissingSegmentIs5) {
  const Outcome o = tokenwell({"get", "redis"});
  EXPECT_EQ(o.exit_code, 5);
  EXPECT_EQ(o.err, "tokenwell: no segment at " + segment_path() + " (is tokenwell-agent running?)\n");
}

TEST_F(Get, CorruptSegmentIs5) {
  std::ofstream(segment_path()) << std::string(4096, 'x');
  const Outcome o = tokenwell({"get", "redis"});
  EXPECT_EQ(o.exit_code, 5);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "tokenwell: " + segment_path() +
                       " is not a valid tokenwell segment (truncated or corrupt)\n");
}

TEST_F(Get, SegmentOfANewerIncompatibleAgentIs5) {
  publish("redis", credential("oid-1", "token-1"));
  {
    std::fstream f(segment_path(), std::ios::in | std::ios::out | std::ios::binary);
    const std::uint16_t versions[2] = {7, 7};  // abi_version, compat_version
    f.seekp(offsetof(tw_seg_header, abi_version));
    f.write(reinterpret_cast<const char*>(versions), sizeof versions);
  }
  const Outcome o = tokenwell({"get", "redis"});
  EXPECT_EQ(o.exit_code, 5);
  EXPECT_NE(o.err.find("newer, incompatible tokenwell-agent"), std::string::npos) << o.err;
}

TEST_F(Get, DirectoryComesFromTheEnvironmentUnlessGiven) {
  publish("redis", credential("oid-1", "token-1"));
  const Env env = {{"TOKENWELL_DIR", dir.path().string()}};
  EXPECT_EQ(Process({TOKENWELL_CLI, "get", "redis"}, env).finish().out, "token-1\n");
  // --dir wins over the environment, and may follow the command.
  const Env elsewhere = {{"TOKENWELL_DIR", "/nonexistent-tokenwell"}};
  EXPECT_EQ(Process({TOKENWELL_CLI, "get", "redis", "--dir", dir.path().string()}, elsewhere)
                .finish()
                .out,
            "token-1\n");
  EXPECT_EQ(Process({TOKENWELL_CLI, "--dir=" + dir.path().string() + "/", "get", "redis"})
                .finish()
                .out,
            "token-1\n");
}

TEST_F(Get, DefaultDirectoryIsRunTokenwell) {
  if (std::filesystem::exists("/run/tokenwell/segment")) GTEST_SKIP() << "an agent runs here";
  const Outcome o = Process({TOKENWELL_CLI, "get", "redis"}).finish();
  EXPECT_EQ(o.exit_code, 5);
  EXPECT_NE(o.err.find("/run/tokenwell"), std::string::npos) << o.err;
}

TEST_F(Get, UnwritableStdoutIsNotSuccess) {
  publish("redis", credential("oid-1", "token-1"));
  const std::string cmd = "exec \"$0\" --dir \"$1\" get redis > /dev/full";
  const Outcome o =
      Process({"/bin/sh", "-c", cmd, TOKENWELL_CLI, dir.path().string()}).finish();
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.err, "tokenwell: cannot write to standard output: No space left on device\n");
}

}  // namespace
}  // namespace tw::test
