// The agent's config: defaults, durations, and one precise line per problem
// for every broken config under configs/broken/ (NAME.json + NAME.expected).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "tokenwell/agent/app/check_config.hpp"
#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/common/json_object.hpp"
#include "tokenwell/agent/common/log.hpp"
#include "tokenwell/agent/common/secret.hpp"
#include "support/test_util.hpp"

namespace tw {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A secret cannot reach a log line or a format string by construction.
static_assert(!fmt::is_formattable<Secret>::value, "Secret must not be formattable");
static_assert(!std::is_constructible_v<log::Field, std::string_view, Secret>,
              "Secret must not become a log field");
static_assert(!std::is_convertible_v<Secret, std::string_view>);

Environment env_of(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string read_line(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(Config, EveryBrokenConfigGivesItsOneExpectedLine) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(TOKENWELL_BROKEN_CONFIGS)) {
    if (entry.path().extension() != ".json") continue;
    auto expected = entry.path();
    expected.replace_extension(".expected");
    auto loaded = load_config(entry.path(), env_of({}));
    std::vector<std::string> lines;
    if (auto* errors = std::get_if<ConfigErrors>(&loaded)) lines = errors->lines;
    else lines = check_config_files(std::get<AgentConfig>(loaded));
    ASSERT_EQ(lines.size(), 1u) << entry.path().filename();
    EXPECT_EQ(lines[0], read_line(expected)) << entry.path().filename();
    ++checked;
  }
  EXPECT_GE(checked, 19);
}

// The config read is bounded and never blocks: what is not a regular file
// (after following symlinks) is refused before a byte is read.
TEST(Config, OnlyARegularFileOfAtMostOneMebibyteIsRead) {
  test::TempDir dir;
  const auto fifo = dir.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto only_line = [](const ConfigResult<AgentConfig>& r) {
    const auto* errors = std::get_if<ConfigErrors>(&r);
    return errors && errors->lines.size() == 1 ? errors->lines[0] : std::string("(no single error)");
  };
  // No writer ever opens the FIFO: a blocking open would hang here.
  EXPECT_EQ(only_line(load_config(fifo, env_of({}))), "config: " + fifo.string() + " is a FIFO (named pipe), not a regular file");
  EXPECT_EQ(only_line(load_config("/dev/zero", env_of({}))),
            "config: /dev/zero is a character device, not a regular file");
  EXPECT_EQ(only_line(load_config(dir.path(), env_of({}))),
            "config: " + dir.path().string() + " is a directory, not a regular file");

  const auto big = dir.path() / "big.json";
  std::ofstream(big) << "{\"log\": {\"level\": \"info\"}}" << std::string(1024 * 1024, ' ');
  EXPECT_EQ(only_line(load_config(big, env_of({}))), "config: " + big.string() + ": larger than 1 MiB");

  // Kubernetes mounts a ConfigMap through ..data symlinks: those still work.
  const auto real = dir.path() / "real.json";
  std::ofstream(real) << "{\"log\": {\"level\": \"warn\"}}";
  std::filesystem::create_symlink(real, dir.path() / "config.json");
  auto loaded = load_config(dir.path() / "config.json", env_of({}));
  ASSERT_TRUE(std::holds_alternative<AgentConfig>(loaded)) << only_line(loaded);
  EXPECT_EQ(std::get<AgentConfig>(loaded).log.level, "warn");
}

// Nothing thrown while parsing escapes: hostile values become located errors.
TEST(Config, HostileValuesAreLocatedErrorsNotExceptions) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"listen": "127.0.0.1:99999999999999999999"})", "listen: port out of range (99999999999999999999)"},
      {R"({"listen": "[::1]:65536"})", "listen: port out of range (65536)"},
      {R"({"log": {"level": -1e999}})", "log.level: number out of range (-1e999)"},
      {R"({"credentials": [{"name": "a", "source": "file", "path": "/x", "refresh": {"ratio": 1e309}}]})",
       "credentials[0].refresh.ratio: number out of range (1e309)"},
      {R"({"allow": {"uids": [1, 1e400]}})", "allow.uids[1]: number out of range (1e400)"},
      {R"({"allow": {"uids": [18446744073709551616]}})", "allow.uids[0]: expected a non-negative integer id"},
      {R"({"a": 1, "a": 1})", "a: duplicate key (each key may appear once in an object)"},
      {R"({"log": {"level": "info"}, "log": {}})", "log: duplicate key (each key may appear once in an object)"},
  };
  for (const auto& [text, expected] : cases) {
    ConfigResult<AgentConfig> r = AgentConfig{};
    ASSERT_NO_THROW(r = parse_config_text(text, env_of({}))) << text;
    const auto* errors = std::get_if<ConfigErrors>(&r);
    ASSERT_NE(errors, nullptr) << text;
    ASSERT_FALSE(errors->lines.empty()) << text;
    EXPECT_EQ(errors->lines[0], expected) << text;
  }
  // A huge string is quoted cut short, never whole.
  const std::string huge(100000, 'x');
  auto r = parse_config_text(R"({"log": {"level": ")" + huge + R"("}})", env_of({}));
  ASSERT_TRUE(std::holds_alternative<ConfigErrors>(r));
  EXPECT_LT(std::get<ConfigErrors>(r).lines[0].size(), 200u);
  // A key is config text too: escaped in the path (found by fuzz_config).
  auto k = parse_config_text(R"({"a\u0001\u007fb": 1})", env_of({}));
  ASSERT_TRUE(std::holds_alternative<ConfigErrors>(k));
  EXPECT_TRUE(std::get<ConfigErrors>(k).lines[0].starts_with("a\\x01\\x7fb: unknown key")) << std::get<ConfigErrors>(k).lines[0];
  auto nested = parse_config_text(R"({"log": {"\u001b[31m": 1, "\u001b[31m": 2}})", env_of({}));
  ASSERT_TRUE(std::holds_alternative<ConfigErrors>(nested));
  EXPECT_EQ(std::get<ConfigErrors>(nested).lines[0], "log.\\x1b[31m: duplicate key (each key may appear once in an object)");
}

TEST(Config, DefaultsFromDesign) {
  auto c = parse_config(json::parse(R"({"credentials": [
      {"name": "pw", "source": "file", "path": "/etc/hostname"}]})"), env_of({}));
  ASSERT_TRUE(std::holds_alternative<AgentConfig>(c));
  const auto& a = std::get<AgentConfig>(c);
  EXPECT_EQ(a.runtime_dir, "/run/tokenwell");
  EXPECT_EQ(a.listen, "0.0.0.0:9464");
  EXPECT_EQ(a.log.level, "info");
  EXPECT_EQ(a.log.format, "json");
  ASSERT_EQ(a.credentials.size(), 1u);
  const auto& r = a.credentials[0].refresh;
  EXPECT_DOUBLE_EQ(r.ratio, 0.75);
  EXPECT_EQ(r.min_remaining, 5min);
  EXPECT_DOUBLE_EQ(r.jitter, 0.05);
  EXPECT_EQ(r.retry_min, 1s);
  EXPECT_EQ(r.retry_max, 60s);
  EXPECT_EQ(r.retry_max_expired, 8s);
  EXPECT_EQ(r.retry_after_max, 5min);
  EXPECT_EQ(r.timeout, 10s);
}

TEST(Config, RetryMaxExpiredAndRetryAfterMax) {
  auto refresh_of = [](const char* block) {
    auto c = parse_config(json::parse(std::string(R"({"credentials": [{"name": "pw", "source": "file",
        "path": "/etc/hostname", "refresh": )") + block + "}]}"), env_of({}));
    EXPECT_TRUE(std::holds_alternative<AgentConfig>(c)) << block;
    return std::get<AgentConfig>(c).credentials.at(0).refresh;
  };
  auto r = refresh_of(R"({"retry_max_expired": "3s", "retry_after_max": "2m"})");
  EXPECT_EQ(r.retry_max_expired, 3s);
  EXPECT_EQ(r.retry_after_max, 2min);
  EXPECT_EQ(refresh_of(R"({"retry_max_expired": 20})").retry_max_expired, 20s);
  // Unset, it follows a retry_max below its default instead of being an error.
  EXPECT_EQ(refresh_of(R"({"retry_max": "5s"})").retry_max_expired, 5s);
  EXPECT_EQ(refresh_of(R"({"retry_max": "5m"})").retry_max_expired, 8s);
}

TEST(Config, RuntimeDirFromEnvironmentUnlessConfigured) {
  auto c = parse_config(json::parse("{}"), env_of({{"TOKENWELL_DIR", "/tmp/tw"}}));
  EXPECT_EQ(std::get<AgentConfig>(c).runtime_dir, "/tmp/tw");
  auto d = parse_config(json::parse(R"({"runtime_dir": "/srv/tw"})"), env_of({{"TOKENWELL_DIR", "/tmp/tw"}}));
  EXPECT_EQ(std::get<AgentConfig>(d).runtime_dir, "/srv/tw");
}

TEST(Config, EntraOnAksNeedsOnlyANameFromWorkloadIdentityVariables) {
  auto c = parse_config(json::parse(R"({"credentials": [{"name": "redis", "source": "entra"}]})"),
                        env_of({{"AZURE_TENANT_ID", "tenant-1"},
                                {"AZURE_CLIENT_ID", "client-1"},
                                {"AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"},
                                {"AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"}}));
  ASSERT_TRUE(std::holds_alternative<AgentConfig>(c))
      << std::get<ConfigErrors>(c).lines.at(0);
  const auto& e = std::get<EntraConfig>(std::get<AgentConfig>(c).credentials[0].settings);
  EXPECT_EQ(e.tenant_id, "tenant-1");
  EXPECT_EQ(e.scope, "https://redis.azure.com/.default");
  EXPECT_TRUE(std::holds_alternative<WorkloadIdentityAuth>(e.auth));
}

TEST(Config, ReportsEveryBrokenEntryNotOnlyTheFirst) {
  auto c = parse_config(json::parse(R"({"log": {"level": "x"}, "credentials": [
      {"name": "a", "source": "nope"}, {"name": "b", "source": "file"}]})"), env_of({}));
  ASSERT_TRUE(std::holds_alternative<ConfigErrors>(c));
  EXPECT_EQ(std::get<ConfigErrors>(c).lines.size(), 3u);
}

TEST(Config, FingerprintChangesOnlyWithTheEntry) {
  auto parse = [](const char* text) {
    return std::get<AgentConfig>(parse_config(json::parse(text), env_of({}))).credentials[0].fingerprint;
  };
  const auto a = parse(R"({"credentials": [{"name": "p", "source": "file", "path": "/a"}]})");
  const auto b = parse(R"({"listen": "", "credentials": [{"path": "/a", "name": "p", "source": "file"}]})");
  const auto c = parse(R"({"credentials": [{"name": "p", "source": "file", "path": "/b"}]})");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Durations, AcceptedForms) {
  EXPECT_EQ(*parse_duration(json("90s")), 90s);
  EXPECT_EQ(*parse_duration(json("5m")), 5min);
  EXPECT_EQ(*parse_duration(json("1h")), 1h);
  EXPECT_EQ(*parse_duration(json("250ms")), 250ms);
  EXPECT_EQ(*parse_duration(json("1.5s")), 1500ms);
  EXPECT_EQ(*parse_duration(json(30)), 30s);
  EXPECT_EQ(*parse_duration(json(0.5)), 500ms);
  EXPECT_EQ(*parse_duration(json("45")), 45s);
}

TEST(Durations, RejectedForms) {
  for (const char* bad : {"", "s", "-5s", "5 s", "5sec", "1w", "abc"})
    EXPECT_FALSE(parse_duration(json(bad)).ok()) << bad;
  EXPECT_FALSE(parse_duration(json(-1)).ok());
  EXPECT_FALSE(parse_duration(json(true)).ok());
}

TEST(Logs, JsonLinesAreValidJsonWithEscapedText) {
  const auto line = log::format_line({"json", "info"}, log::Level::warn, "a \"quoted\"\nmsg",
                                     {{"credential", "redis"}, {"n", 3}}, 1'700'000'000'123);
  const auto j = json::parse(line);
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "a \"quoted\"\nmsg");
  EXPECT_EQ(j["credential"], "redis");
  EXPECT_EQ(j["n"], 3);
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line per record";
}

TEST(Logs, TextFormat) {
  const auto line = log::format_line({"text", "info"}, log::Level::info, "published",
                                     {{"credential", "redis"}}, 1'700'000'000'000);
  EXPECT_EQ(line, "2023-11-14T22:13:20.000Z info published credential=\"redis\"");
}

}  // namespace
}  // namespace tw
