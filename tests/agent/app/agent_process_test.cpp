// The real tokenwell-agent binary as a child process: --check-config,
// --once, the file source end to end (atomic rename, Kubernetes ..data
// symlink swap), SIGHUP reloads, SIGTERM, restart over the segment, and no
// secret in any log line.
//
// Waiting is on events with bounds (tokenwell_wait, pidfd poll), never on
// sleeps.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/api/api_test_support.hpp"
#include "support/test_util.hpp"
#include "support/child_process.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

namespace fs = std::filesystem;

using test::read_file;

void put(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::trunc);
  out << text;
}

// Replaces `p` atomically, as an operator's rotation would.
void put_atomic(const fs::path& p, const std::string& text) {
  put(p.string() + ".tmp", text);
  fs::rename(p.string() + ".tmp", p);
}

using test::Child;

// TOKENWELL_AGENT_UNDER_TEST runs these tests against another build (an
// older one, to see a new test fail there).
std::string agent_binary() {
  const char* binary = std::getenv("TOKENWELL_AGENT_UNDER_TEST");
  return binary ? binary : TOKENWELL_AGENT;
}

class AgentProcess : public ::testing::Test {
 protected:
  test::TempDir dir;
  fs::path run_dir() const { return dir.path() / "run"; }
  fs::path secrets() const { return dir.path() / "secrets"; }
  fs::path config() const { return dir.path() / "config.json"; }
  fs::path err() const { return dir.path() / "agent.err"; }
  fs::path out() const { return dir.path() / "agent.out"; }
  std::vector<std::string> secrets_used;

  void SetUp() override { fs::create_directories(secrets()); }

  void TearDown() override {
    // No secret (nor a long part of one) in any log line the agent wrote.
    const std::string logs = read_file(err()) + read_file(out());
    for (const auto& s : secrets_used) {
      EXPECT_EQ(logs.find(s), std::string::npos) << "secret found in the agent's logs";
      if (s.size() >= 16) {
        EXPECT_EQ(logs.find(s.substr(4, 12)), std::string::npos);
      }
    }
  }

  std::string secret(const std::string& tag) {
    std::string s = "s3cr3t-" + tag + "-" + std::to_string(getpid()) + "-0123456789abcdef";
    secrets_used.push_back(s);
    return s;
  }

  void write_config(const std::string& credentials) {
    put(config(), "{\"runtime_dir\": \"" + run_dir().string() +
                      "\", \"listen\": \"127.0.0.1:0\", \"log\": {\"level\": \"debug\"},"
                      " \"credentials\": [" + credentials + "]}");
  }
  std::string file_credential(const std::string& name, const fs::path& path) {
    return "{\"name\": \"" + name + "\", \"source\": \"file\", \"path\": \"" + path.string() +
           "\", \"username\": \"default\"}";
  }

  std::unique_ptr<Child> start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {agent_binary(), "--config", config().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Child>(args, out(), err());
  }

  // Opens the segment once the agent has created it.
  tokenwell* open_reader(Child& agent) {
    for (int i = 0; i < 500; ++i) {
      tokenwell* tw = nullptr;
      if (tokenwell_open(run_dir().c_str(), &tw) == TOKENWELL_OK) return tw;
      if (agent.wait_exit(10) >= 0) break;  // bounded: 10 ms per try
    }
    ADD_FAILURE() << "the agent did not create its segment; stderr:\n" << read_file(err());
    return nullptr;
  }

  // Waits (bounded) until the agent's stderr contains `text`.
  bool wait_for_log(Child& agent, const std::string& text) {
    for (int i = 0; i < 1000; ++i) {
      if (read_file(err()).find(text) != std::string::npos) return true;
      if (agent.wait_exit(10) >= 0) break;  // 10 ms per look, 10 s at most
    }
    ADD_FAILURE() << "no log line with '" << text << "'; stderr:\n" << read_file(err());
    return false;
  }

  // Waits for a generation newer than `after`; returns it and the value.
  std::pair<std::uint64_t, std::string> next_value(tokenwell* tw, const char* name,
                                                   std::uint64_t after) {
    std::uint64_t gen = 0;
    for (;;) {
      int rc = tokenwell_wait(tw, name, after, 10000, &gen);
      if (rc != TOKENWELL_OK) {
        ADD_FAILURE() << "no new generation of " << name << ": " << tokenwell_strerror(rc)
                      << "\nagent stderr:\n" << read_file(err());
        return {0, ""};
      }
      char buf[4096];
      size_t len = 0;
      std::uint64_t read_gen = 0;
      rc = tokenwell_read(tw, name, buf, sizeof buf, &len, nullptr, 0, nullptr, &read_gen);
      if (rc == TOKENWELL_OK) return {read_gen, std::string(buf, len)};
      after = gen;  // a pending placeholder: wait for the real value
    }
  }
};

TEST_F(AgentProcess, CheckConfigPrintsOnePreciseLinePerBrokenConfig) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(TOKENWELL_BROKEN_CONFIGS)) {
    if (entry.path().extension() != ".json") continue;
    auto expected = entry.path();
    expected.replace_extension(".expected");
    const auto e = dir.path() / (entry.path().stem().string() + ".err");
    Child c({agent_binary(), "--config", entry.path().string(), "--check-config"},
            dir.path() / "check.out", e, {.clean_env = true});
    EXPECT_EQ(c.wait_exit(10000), 1) << entry.path().filename();
    EXPECT_EQ(read_file(e), read_file(expected)) << entry.path().filename();
    ++checked;
  }
  EXPECT_GE(checked, 19);
}

TEST_F(AgentProcess, CheckConfigAcceptsAGoodConfig) {
  put(secrets() / "redis", secret("check"));
  write_config(file_credential("redis", secrets() / "redis"));
  auto c = start({"--check-config"});
  EXPECT_EQ(c->wait_exit(10000), 0);
  EXPECT_NE(read_file(out()).find("config ok"), std::string::npos);
}

TEST_F(AgentProcess, UsageErrorsExitTwo) {
  Child c({TOKENWELL_AGENT, "--bogus"}, out(), err());
  EXPECT_EQ(c.wait_exit(10000), 2);
  Child d({TOKENWELL_AGENT}, out(), err());
  EXPECT_EQ(d.wait_exit(10000), 2);
}

TEST_F(AgentProcess, OncePublishesAndExits) {
  const auto s = secret("once");
  put(secrets() / "redis", s + "\n");
  write_config(file_credential("redis", secrets() / "redis"));
  auto agent = start({"--once"});
  ASSERT_EQ(agent->wait_exit(10000), 0) << read_file(err());
  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open(run_dir().c_str(), &tw), TOKENWELL_OK);
  char buf[256], user[64];
  ASSERT_EQ(tokenwell_read(tw, "redis", buf, sizeof buf, nullptr, user, sizeof user, nullptr, nullptr),
            TOKENWELL_OK);
  EXPECT_EQ(std::string(buf), s) << "one trailing newline is trimmed";
  EXPECT_STREQ(user, "default");
  tokenwell_close(tw);
}

TEST_F(AgentProcess, OnceFailsWhenACredentialCannotBeFetched) {
  put(secrets() / "ok", secret("ok"));
  write_config(file_credential("ok", secrets() / "ok") + "," +
               file_credential("missing", secrets() / "missing"));
  auto agent = start({"--once"});
  EXPECT_EQ(agent->wait_exit(10000), 1);
}

// Old code: --check-config passed a FIFO (access(R_OK) only), --once blocked
// in open() for ever with nothing logged, and a directory was "empty".
TEST_F(AgentProcess, SecretFilesThatAreNotRegularAreNamedNotWaitedOn) {
  put(secrets() / "ok", secret("fifo-ok"));
  ASSERT_EQ(::mkfifo((secrets() / "pipe").c_str(), 0600), 0);
  fs::create_directory(secrets() / "dir");
  write_config(file_credential("ok", secrets() / "ok") + "," + file_credential("pipe", secrets() / "pipe") + "," +
               file_credential("dir", secrets() / "dir"));
  auto check = start({"--check-config"});
  EXPECT_EQ(check->wait_exit(10000), 1);
  const std::string text = read_file(err());
  const std::string fifo_line =
      "credentials[1].path: " + (secrets() / "pipe").string() + " is a FIFO (named pipe), not a regular file";
  const std::string dir_line =
      "credentials[2].path: " + (secrets() / "dir").string() + " is a directory, not a regular file";
  EXPECT_NE(text.find(fifo_line), std::string::npos) << text;
  EXPECT_NE(text.find(dir_line), std::string::npos) << text;
  auto once = start({"--once"});
  EXPECT_EQ(once->wait_exit(10000), 1) << "a FIFO held the fetch";
  EXPECT_NE(read_file(err()).find("is a FIFO (named pipe), not a regular file"), std::string::npos);
  if (once->running()) {  // the old agent, stuck in open(): a writer lets it go
    const int w = ::open((secrets() / "pipe").c_str(), O_WRONLY | O_NONBLOCK);
    if (w >= 0) ::close(w);
  }
}

// Old code: a runtime directory every user may write (an emptyDir's 0777)
// was used as is, by --check-config and at start.
TEST_F(AgentProcess, ARuntimeDirectoryOthersMayWriteIsRefusedUnlessDeclaredReadOnlyForThem) {
  put(secrets() / "redis", secret("dir"));
  fs::create_directories(run_dir());
  fs::permissions(run_dir(), fs::perms::all);  // 0777, no sticky bit
  write_config(file_credential("redis", secrets() / "redis"));
  const std::string why = "runtime_dir: " + run_dir().string() +
                          " is writable by every user (mode 0777) and has no sticky bit";
  auto check = start({"--check-config"});
  EXPECT_EQ(check->wait_exit(10000), 1);
  EXPECT_NE(read_file(err()).find(why), std::string::npos) << read_file(err());
  auto refused = start();
  EXPECT_EQ(refused->wait_exit(10000), 1);
  EXPECT_FALSE(fs::exists(run_dir() / "segment"));

  // Every other container mounts it read-only: accepted, with a warning.
  put(config(), "{\"runtime_dir\": \"" + run_dir().string() +
                    "\", \"runtime_dir_read_only_for_others\": true, \"listen\": \"\", \"credentials\": [" +
                    file_credential("redis", secrets() / "redis") + "]}");
  auto ok = start({"--check-config"});
  EXPECT_EQ(ok->wait_exit(10000), 0) << read_file(err());
  auto agent = start();
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  EXPECT_TRUE(wait_for_log(*agent, "the runtime directory is writable by every user and has no sticky bit"));
  agent->kill(SIGTERM);
  EXPECT_EQ(agent->wait_exit(10000), 0);
  tokenwell_close(tw);
}

TEST_F(AgentProcess, FileRotationsArePublishedAndSigtermKeepsTheSegment) {
  const auto s1 = secret("one"), s2 = secret("two"), s3 = secret("three");
  put(secrets() / "redis", s1);
  write_config(file_credential("redis", secrets() / "redis"));
  auto agent = start();
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  auto [g1, v1] = next_value(tw, "redis", 0);
  EXPECT_EQ(v1, s1);

  put_atomic(secrets() / "redis", s2);  // rename over the file
  auto [g2, v2] = next_value(tw, "redis", g1);
  EXPECT_EQ(v2, s2);

  put(secrets() / "redis", s2);  // same content again: no new generation...
  put_atomic(secrets() / "redis", s3);
  auto [g3, v3] = next_value(tw, "redis", g2);
  EXPECT_EQ(v3, s3);
  EXPECT_EQ(g3, g2 + 1) << "...so the next change is exactly one generation later";

  agent->kill(SIGTERM);
  EXPECT_EQ(agent->wait_exit(10000), 0);
  char buf[256];
  EXPECT_EQ(tokenwell_read(tw, "redis", buf, sizeof buf, nullptr, nullptr, 0, nullptr, nullptr),
            TOKENWELL_OK)
      << "readers keep the last value after the agent stopped";
  EXPECT_EQ(std::string(buf), s3);
  tokenwell_close(tw);
}

TEST_F(AgentProcess, KubernetesSecretSymlinkSwapIsPickedUp) {
  // The kubelet's AtomicWriter layout: name -> ..data/name, ..data -> ..TS
  const auto s1 = secret("k8s1"), s2 = secret("k8s2");
  const auto mount = secrets() / "mount";
  fs::create_directories(mount / "..2026_11_22_a");
  put(mount / "..2026_11_22_a" / "password", s1);
  fs::create_directory_symlink("..2026_11_22_a", mount / "..data");
  fs::create_symlink("..data/password", mount / "password");
  write_config(file_credential("redis", mount / "password"));
  auto agent = start();
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  auto [g1, v1] = next_value(tw, "redis", 0);
  EXPECT_EQ(v1, s1);

  fs::create_directories(mount / "..2026_11_22_b");
  put(mount / "..2026_11_22_b" / "password", s2);
  fs::create_directory_symlink("..2026_11_22_b", mount / "..data_tmp");
  fs::rename(mount / "..data_tmp", mount / "..data");
  fs::remove_all(mount / "..2026_11_22_a");
  auto [g2, v2] = next_value(tw, "redis", g1);
  EXPECT_EQ(v2, s2);
  tokenwell_close(tw);
}

TEST_F(AgentProcess, SighupRejectsABadConfigAndKeepsServing) {
  const auto s = secret("hup");
  put(secrets() / "redis", s);
  write_config(file_credential("redis", secrets() / "redis"));
  auto agent = start();
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  auto [g1, v1] = next_value(tw, "redis", 0);
  put(config(), "{\"credentials\": [{\"name\": \"redis\", \"source\": \"nope\"}]}");
  agent->kill(SIGHUP);
  ASSERT_TRUE(wait_for_log(*agent, "unknown source 'nope'"));
  put_atomic(secrets() / "redis", s + "-2");
  secrets_used.push_back(s + "-2");
  auto [g2, v2] = next_value(tw, "redis", g1);
  EXPECT_EQ(v2, s + "-2") << "still serving and watching after a rejected reload";
  EXPECT_NE(read_file(err()).find("config rejected"), std::string::npos);
  EXPECT_TRUE(agent->running());
  tokenwell_close(tw);
}

// --- the reload storm: 200+ bad configs by SIGHUP into one running agent -----

// One reload: the config at `config()` is whatever the test left there.
// Waits (bounded) for the agent to log the reload, then for a socket answer:
// the API runs on the loop that reloads, so an answer means the reload is over.
struct StormConfig {
  std::string what;
  std::function<void()> install;
};

std::string storm_base(const std::map<std::string, std::string>& o, const std::string& runtime_dir,
                       const std::string& redis, const std::string& extra_path) {
  const auto v = [&](const std::string& slot, const std::string& good) {
    auto it = o.find(slot);
    return it == o.end() ? good : it->second;
  };
  const std::string refresh = v("refresh", "{\"ratio\": " + v("ratio", "0.5") + ", \"jitter\": " + v("jitter", "0.1") +
                                               ", \"retry_min\": " + v("retry_min", "\"1s\"") +
                                               ", \"retry_max\": " + v("retry_max", "\"30s\"") +
                                               ", \"timeout\": " + v("timeout", "\"5s\"") + "}");
  const std::string extra = v("extra", "{\"name\": " + v("name", "\"extra\"") + ", \"source\": " +
                                           v("source", "\"file\"") + ", \"path\": " +
                                           v("path", "\"" + extra_path + "\"") + ", \"username\": " +
                                           v("username", "\"default\"") + ", \"refresh\": " + refresh + "}");
  return "{\"runtime_dir\": \"" + runtime_dir + "\", \"listen\": \"127.0.0.1:0\", \"log\": " +
         v("log", "{\"level\": " + v("level", "\"info\"") + ", \"format\": " + v("format", "\"json\"") + "}") +
         ", \"allow\": " + v("allow", "{\"uids\": " + v("uids", "[" + std::to_string(getuid()) + "]") + "}") +
         ", \"credentials\": [" + redis + ", " + extra + "], \"keysets\": " + v("keysets", "[]") + "}";
}

TEST_F(AgentProcess, ReloadStormOfBadConfigsNeverStopsServing) {
  const auto s = secret("storm");
  put(secrets() / "redis", s);
  put(secrets() / "extra", secret("extra"));
  const std::string redis = file_credential("redis", secrets() / "redis");
  const auto render = [&](const std::map<std::string, std::string>& o) {
    return storm_base(o, run_dir().string(), redis, (secrets() / "extra").string());
  };
  const auto replace_config = [&](const std::function<void()>& make) {
    fs::remove_all(config());
    make();
  };
  put(config(), render({}));
  auto agent = start();
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  next_value(tw, "redis", 0);
  ASSERT_TRUE(wait_for_log(*agent, "started"));

  // Wrong types, numbers out of range, huge and control-character strings in
  // every place a value goes (the redis entry itself stays as it is, so a
  // config that happened to be valid would not stop the value being served).
  std::vector<StormConfig> configs;
  const std::string huge = "\"" + std::string(200000, 'x') + "\"";
  const std::vector<std::string> bad_values = {
      "1", "-1", "0.5", "true", "null", "[1]", "{\"x\": 1}", "1e400", "-1e400", "18446744073709551616",
      "-9223372036854775809", huge, "\"\\u0000\\r\\nAUTH x\"", "\"\""};
  const std::vector<std::string> slots = {"log", "level", "format", "allow", "uids", "extra",
                                          "name", "source", "path", "username", "refresh",
                                          "ratio", "jitter", "retry_min", "retry_max", "timeout", "keysets"};
  // Of those, these are valid where they go (in range, or optional).
  const std::set<std::pair<std::string, std::string>> valid = {
      {"ratio", "0.5"},     {"jitter", "0.5"},  {"retry_min", "1"}, {"retry_min", "0.5"}, {"retry_max", "1"},
      {"timeout", "1"},     {"timeout", "0.5"}, {"uids", "[1]"},    {"username", "\"\""}};
  for (const auto& slot : slots)
    for (const auto& value : bad_values)
      if (!valid.count({slot, value})) configs.push_back({slot + "=" + value.substr(0, 24), [&, slot, value] { put(config(), render({{slot, value}})); }});
  // Structure: nesting, duplicate keys, broken syntax, other documents.
  const auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  for (const int depth : {17, 100, 100000})
    configs.push_back({"nesting " + std::to_string(depth),
                       [&, depth] { put(config(), render({{"keysets", nested(depth)}})); }});
  configs.push_back({"nested objects", [&] {
                       std::string deep;
                       for (int i = 0; i < 5000; ++i) deep += "{\"a\": ";
                       deep += "1" + std::string(5000, '}');
                       put(config(), render({{"keysets", deep}}));
                     }});
  for (const std::string key : {"\"runtime_dir\": \"/x\", ", "\"log\": {}, ", "\"credentials\": [], "})
    configs.push_back({"duplicate top-level key", [&, key] {
                         std::string text = render({});
                         text.insert(1, key);
                         put(config(), text);
                       }});
  configs.push_back({"duplicate key in refresh", [&] { put(config(), render({{"refresh", "{\"ratio\": 0.5, \"ratio\": 0.6}"}})); }});
  configs.push_back({"duplicate key in log", [&] { put(config(), render({{"log", "{\"level\": \"info\", \"level\": \"info\"}"}})); }});
  for (const std::string text : {"", "null", "[]", "\"x\"", "{", "{\"log\": }", "{}{}", "\xff\xfe{}"})
    configs.push_back({"document " + text, [&, text] { put(config(), text); }});
  configs.push_back({"truncated", [&] { const auto t = render({}); put(config(), t.substr(0, t.size() / 2)); }});
  configs.push_back({"10 MiB file", [&] {
                       std::string t = render({});
                       t.insert(t.size() - 1, ", \"x\": \"" + std::string(10 * 1024 * 1024, 'y') + "\"");
                       put(config(), t);
                     }});
  configs.push_back({"a FIFO", [&] { replace_config([&] { ASSERT_EQ(::mkfifo(config().c_str(), 0600), 0); }); }});
  configs.push_back({"/dev/zero", [&] { replace_config([&] { fs::create_symlink("/dev/zero", config()); }); }});
  configs.push_back({"a directory", [&] { replace_config([&] { fs::create_directory(config()); }); }});
  configs.push_back({"a dangling symlink", [&] { replace_config([&] { fs::create_symlink(dir.path() / "nope", config()); }); }});
  ASSERT_GE(configs.size(), 200u);

  std::size_t reloads_seen = 0;
  const auto count = [](const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  for (const auto& config_case : configs) {
    SCOPED_TRACE(config_case.what);
    const std::size_t logged_before = read_file(err()).size();
    replace_config([] {});
    config_case.install();
    agent->kill(SIGHUP);
    for (int i = 0; i < 1000 && count(read_file(err()), "\"msg\":\"reloading config\"") == reloads_seen; ++i)
      if (agent->wait_exit(10) >= 0) break;
    ++reloads_seen;
    ASSERT_TRUE(agent->running()) << "the agent died; stderr tail:\n" << read_file(err()).substr(logged_before);
    // Serving throughout: the socket answers, the token stays readable.
    auto r = testing::get_unix(run_dir() / "agent.sock", "/v1/credentials/redis");
    ASSERT_TRUE(r) << "the socket did not answer";
    EXPECT_EQ(r->result_int(), 200);
    char buf[512];
    size_t len = 0;
    ASSERT_EQ(tokenwell_read(tw, "redis", buf, sizeof buf, &len, nullptr, 0, nullptr, nullptr), TOKENWELL_OK);
    EXPECT_EQ(std::string(buf, len), s);
    const std::string logged = read_file(err()).substr(logged_before);
    EXPECT_EQ(count(logged, "\"msg\":\"reloading config\""), 1u);
    EXPECT_NE(logged.find("config rejected; keeping the running one"), std::string::npos)
        << "accepted:\n" << logged.substr(0, 2000);
    EXPECT_LT(logged.size(), 8192u) << "a rejected config floods the log";
  }
  // And the agent still takes a good config after all that.
  replace_config([&] { put(config(), render({})); });
  const std::size_t before = read_file(err()).size();
  agent->kill(SIGHUP);
  for (int i = 0; i < 1000 && count(read_file(err()), "\"msg\":\"reloading config\"") == reloads_seen; ++i)
    if (agent->wait_exit(10) >= 0) break;
  ASSERT_TRUE(testing::get_unix(run_dir() / "agent.sock", "/v1/credentials/redis"));
  EXPECT_EQ(read_file(err()).substr(before).find("config rejected"), std::string::npos);
  EXPECT_TRUE(agent->running());
  tokenwell_close(tw);
}

// "Max core file size  0  0  bytes" in /proc/PID/limits: the soft and hard limits.
std::pair<std::string, std::string> core_limits(pid_t pid) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/limits"));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("Max core file size")) continue;
    std::istringstream fields(line.substr(std::string("Max core file size").size()));
    std::string soft, hard;
    fields >> soft >> hard;
    return {soft, hard};
  }
  return {"?", "?"};
}

// The "core dumps" line the agent logs after reading back prctl(PR_GET_DUMPABLE)
// and RLIMIT_CORE in its own process.
nlohmann::json core_dump_line(const std::string& log) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line))
    if (line.find("\"msg\":\"core dumps\"") != std::string::npos) return nlohmann::json::parse(line, nullptr, false);
  return nullptr;
}

TEST_F(AgentProcess, NoCoreDumpsUnlessAllowedByTheDebugFlag) {
  put(secrets() / "redis", secret("core"));
  put(config(), "{\"runtime_dir\": \"" + run_dir().string() + "\", \"listen\": \"\", \"log\": {\"format\": \"json\"},"
                " \"credentials\": [" + file_credential("redis", secrets() / "redis") + "]}");
  // Whatever this test inherited, let the agent inherit a non-zero limit.
  rlimit inherited{};
  ASSERT_EQ(::getrlimit(RLIMIT_CORE, &inherited), 0);
  if (inherited.rlim_max != 0) {
    rlimit some = inherited;
    some.rlim_cur = inherited.rlim_max == RLIM_INFINITY ? 1 << 20 : inherited.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_CORE, &some), 0);
  }
  {
    auto agent = start();
    ASSERT_TRUE(wait_for_log(*agent, "started"));
    EXPECT_EQ(core_limits(agent->pid()), std::make_pair(std::string("0"), std::string("0")));
    const auto line = core_dump_line(read_file(err()));
    ASSERT_TRUE(line.is_object()) << read_file(err());
    EXPECT_EQ(line["dumpable"], false);
    EXPECT_EQ(line["core_limit_bytes"], 0);
    agent->kill(SIGTERM);
    EXPECT_EQ(agent->wait_exit(10000), 0);
  }
  fs::remove(err());
  {
    auto agent = start({"--allow-core-dumps"});
    ASSERT_TRUE(wait_for_log(*agent, "started"));
    const auto line = core_dump_line(read_file(err()));
    ASSERT_TRUE(line.is_object()) << read_file(err());
    EXPECT_EQ(line["dumpable"], true);
    EXPECT_EQ(line["allowed_by_flag"], true);
    if (inherited.rlim_max != 0) {
      EXPECT_NE(core_limits(agent->pid()).first, "0");
    }
    agent->kill(SIGTERM);
    EXPECT_EQ(agent->wait_exit(10000), 0);
  }
  ::setrlimit(RLIMIT_CORE, &inherited);
}

TEST_F(AgentProcess, SighupAddsAndRemovesWithoutDisturbingOthers) {
  put(secrets() / "a", secret("a"));
  put(secrets() / "b", secret("b"));
  write_config(file_credential("a", secrets() / "a"));
  auto agent = start();
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  auto [ga, va] = next_value(tw, "a", 0);
  write_config(file_credential("a", secrets() / "a") + "," + file_credential("b", secrets() / "b"));
  agent->kill(SIGHUP);
  auto [gb, vb] = next_value(tw, "b", 0);
  EXPECT_EQ(vb, secrets_used[1]);
  std::uint64_t ga_now = 0;
  char buf[256];
  ASSERT_EQ(tokenwell_read(tw, "a", buf, sizeof buf, nullptr, nullptr, 0, nullptr, &ga_now), TOKENWELL_OK);
  EXPECT_EQ(ga_now, ga) << "an unchanged credential is not refetched";

  write_config(file_credential("b", secrets() / "b"));
  agent->kill(SIGHUP);
  std::uint64_t gen = 0;
  // Removing "a" bumps its slot; wait for that, then it is unknown.
  ASSERT_EQ(tokenwell_wait(tw, "b", gb, 100, &gen), TOKENWELL_ETIMEOUT) << "b is untouched";
  for (int i = 0; i < 100 && tokenwell_read(tw, "a", buf, sizeof buf, nullptr, nullptr, 0, nullptr, nullptr) != TOKENWELL_ENOTFOUND; ++i)
    tokenwell_wait(tw, "a", ga, 100, &gen);
  EXPECT_EQ(tokenwell_read(tw, "a", buf, sizeof buf, nullptr, nullptr, 0, nullptr, nullptr),
            TOKENWELL_ENOTFOUND);
  tokenwell_close(tw);
}

TEST_F(AgentProcess, LogLevelFromTheCommandLineSurvivesSighup) {
  const auto s = secret("level");
  put(secrets() / "redis", s);
  put(config(), "{\"runtime_dir\": \"" + run_dir().string() +
                    "\", \"listen\": \"\", \"log\": {\"level\": \"info\"}, \"credentials\": [" +
                    file_credential("redis", secrets() / "redis") + "]}");
  auto agent = start({"--log-level", "debug"});
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  auto [g1, v1] = next_value(tw, "redis", 0);
  ASSERT_TRUE(wait_for_log(*agent, "\"msg\":\"fetching\"")) << "--log-level debug at start-up";
  agent->kill(SIGHUP);
  ASSERT_TRUE(wait_for_log(*agent, "\"msg\":\"reloading config\""));
  // A reload that keeps log.level "info" must not undo --log-level debug:
  // the next fetch is still logged at debug.
  const std::string logged_before = read_file(err());
  put_atomic(secrets() / "redis", s + "-2");
  secrets_used.push_back(s + "-2");
  auto [g2, v2] = next_value(tw, "redis", g1);
  EXPECT_EQ(v2, s + "-2");
  const std::string after = read_file(err()).substr(logged_before.size());
  EXPECT_NE(after.find("\"msg\":\"fetching\""), std::string::npos)
      << "the debug line of the fetch after the reload is missing:\n" << after;
  tokenwell_close(tw);
}

TEST_F(AgentProcess, SocketApiWarningsAreJsonLinesOfTheAgentsLog) {
  put(secrets() / "redis", secret("json"));
  if (::geteuid() != 0) GTEST_SKIP() << "the denied caller runs as uid 4243: needs root (CI is)";
  // The agent (this test's uid) and group 4242 are allowed; a caller as uid
  // 4243 is denied.
  put(config(), "{\"runtime_dir\": \"" + run_dir().string() +
                    "\", \"listen\": \"\", \"log\": {\"format\": \"json\"},"
                    " \"allow\": {\"gids\": [4242]}, \"credentials\": [" +
                    file_credential("redis", secrets() / "redis") + "]}");
  fs::permissions(dir.path(), fs::perms::others_exec, fs::perm_options::add);
  auto agent = start();
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  next_value(tw, "redis", 0);
  tokenwell_close(tw);
  ASSERT_TRUE(wait_for_log(*agent, "started"));
  const fs::path code = dir.path() / "curl.code";
  Child curl({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket",
              (run_dir() / "agent.sock").string(), "http://localhost/v1/credentials"},
             code, dir.path() / "curl.err", {.as = test::Identity{4243, 4243, {}}});
  ASSERT_EQ(curl.wait_exit(10000), 0);
  EXPECT_EQ(read_file(code), "403");
  ASSERT_TRUE(wait_for_log(*agent, "caller denied"));
  std::istringstream lines(read_file(err()));
  std::string line;
  bool found = false;
  while (std::getline(lines, line)) {
    if (line.find("caller denied") == std::string::npos) continue;
    found = true;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "not a JSON line of the agent's log: " << line;
    EXPECT_EQ(j["level"], "warn");
    EXPECT_EQ(j["listener"], "socket API");
    EXPECT_EQ(j["uid"], 4243);
  }
  EXPECT_TRUE(found);
}

TEST_F(AgentProcess, RestartKeepsAnUnchangedValuesGenerationAndContinuesGenerations) {
  const auto s = secret("restart");
  put(secrets() / "redis", s);
  write_config(file_credential("redis", secrets() / "redis"));
  auto first = start();
  tokenwell* tw = open_reader(*first);
  ASSERT_NE(tw, nullptr);
  auto [g1, v1] = next_value(tw, "redis", 0);
  first->kill(SIGTERM);
  ASSERT_EQ(first->wait_exit(10000), 0);

  auto second = start();
  // Attached across the restart: the value is readable before and after.
  char buf[256];
  EXPECT_EQ(tokenwell_read(tw, "redis", buf, sizeof buf, nullptr, nullptr, 0, nullptr, nullptr),
            TOKENWELL_OK);
  // The unchanged file keeps its generation (readers do not re-authenticate);
  // a changed one continues from the previous agent's generations.
  ASSERT_TRUE(wait_for_log(*second, "unchanged; generation kept"));
  std::uint64_t kept = 0;
  EXPECT_EQ(tokenwell_read(tw, "redis", buf, sizeof buf, nullptr, nullptr, 0, nullptr, &kept), TOKENWELL_OK);
  EXPECT_EQ(kept, g1);
  const auto changed = secret("restart-changed");
  put_atomic(secrets() / "redis", changed);
  auto [g2, v2] = next_value(tw, "redis", g1);
  EXPECT_GT(g2, g1);
  EXPECT_EQ(v2, changed);
  second->kill(SIGTERM);
  EXPECT_EQ(second->wait_exit(10000), 0);
  tokenwell_close(tw);
}

TEST_F(AgentProcess, SecondAgentOnTheSameDirectoryIsRefused) {
  put(secrets() / "redis", secret("two-agents"));
  write_config(file_credential("redis", secrets() / "redis"));
  auto first = start();
  tokenwell* tw = open_reader(*first);
  ASSERT_NE(tw, nullptr);
  auto second = start();
  EXPECT_EQ(second->wait_exit(10000), 1);
  EXPECT_NE(read_file(err()).find("another tokenwell-agent"), std::string::npos);
  tokenwell_close(tw);
}

// --- one access model (docs/security.md) ------------------------------------
// The agent runs as uid 4000 (supplementary group 4100) and readers as other
// users, each through both paths: the segment (`tokenwell get`, file
// permissions) and the socket (curl, SO_PEERCRED). For every reader, both
// paths must agree with `allow`. On the old code uid 4003 with gid 0 was
// refused by the socket yet read the segment, and a gid in `allow` that was
// not the segment's group was let in by the socket only.
class AccessModel : public AgentProcess {
 protected:
  static std::string agent_binary() {
    const char* binary = std::getenv("TOKENWELL_AGENT_UNDER_TEST");
    return binary ? binary : TOKENWELL_AGENT;
  }
  static constexpr uid_t kAgentUid = 4000;
  static constexpr gid_t kAgentGid = 4000;
  static constexpr gid_t kShared = 4100;  // the agent is a member
  static constexpr gid_t kOther = 4200;   // the agent is a member too

  struct Reader {
    const char* who;
    test::Identity id;
  };
  // Every combination: allowed through the primary gid, a supplementary
  // group, the agent's own uid; refused as gid 0, another group, nobody.
  const std::vector<Reader> readers = {
      {"uid 4001, supplementary 4100", {4001, 4001, {kShared}}},
      {"uid 4002, gid 4100", {4002, kShared, {}}},
      {"uid 4003, gid 0", {4003, 0, {}}},
      {"uid 4004, supplementary 4200", {4004, 4004, {kOther}}},
      {"the agent's uid 4000, gid 4999", {kAgentUid, 4999, {}}},
      {"nobody 65534", {65534, 65534, {}}},
  };

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "runs the agent and its readers as other users: needs root (CI is)";
    AgentProcess::SetUp();
    // Other users traverse the test directory and read the config and the
    // secret; the runtime directory is the agent's own, mode 0755.
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
    fs::create_directories(run_dir());
    ASSERT_EQ(::chown(run_dir().c_str(), kAgentUid, kAgentGid), 0);
  }

  void write_allow_config(const std::string& allow) {
    put(config(), "{\"runtime_dir\": \"" + run_dir().string() + "\", \"listen\": \"\", \"allow\": " + allow +
                      ", \"credentials\": [" + file_credential("redis", secrets() / "redis") + "]}");
  }

  std::unique_ptr<Child> start_as_agent_user() {
    return std::make_unique<Child>(std::vector<std::string>{agent_binary(), "--config", config().string()},
                                   out(), err(),
                                   test::ChildOptions{.as = test::Identity{kAgentUid, kAgentGid, {kShared, kOther}}});
  }

  // Reads `redis` as `reader` from the segment; true when it got `value`.
  bool reads_segment(const Reader& reader, const std::string& value) {
    const fs::path o = dir.path() / "get.out", e = dir.path() / "get.err";
    fs::remove(o);
    Child get({TOKENWELL_CLI, "get", "redis"}, o, e,
              {.extra_env = {"TOKENWELL_DIR=" + run_dir().string()}, .as = reader.id});
    const int rc = get.wait_exit(10000);
    EXPECT_NE(rc, 126) << reader.who << ": could not become that user";
    return rc == 0 && read_file(o) == value + "\n";
  }

  // Asks the socket for `redis` as `reader`; true on 200 with `value`.
  bool reads_socket(const Reader& reader, const std::string& value) {
    const fs::path o = dir.path() / "curl.out", body = dir.path() / "curl.body";
    fs::remove(o);
    fs::remove(body);
    // curl writes the body as the reader: give it a directory it may write.
    const fs::path scratch = dir.path() / ("curl-" + std::to_string(reader.id.uid));
    fs::create_directories(scratch);
    ::chown(scratch.c_str(), reader.id.uid, reader.id.gid);
    Child curl({"/usr/bin/curl", "-s", "-o", (scratch / "body").string(), "-w", "%{http_code}", "--unix-socket",
                (run_dir() / "agent.sock").string(), "http://localhost/v1/credentials/redis"},
               o, dir.path() / "curl.err", {.as = reader.id});
    EXPECT_EQ(curl.wait_exit(10000), 0) << reader.who << ": curl failed";
    return read_file(o) == "200" && read_file(scratch / "body").find(value) != std::string::npos;
  }

  // Waits (bounded) until the agent's log has `n` lines with `text`.
  bool wait_for_count(Child& agent, const std::string& text, std::size_t n) {
    for (int i = 0; i < 1000; ++i) {
      const std::string log = read_file(err());
      std::size_t count = 0;
      for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++count;
      if (count >= n) return true;
      if (agent.wait_exit(10) >= 0) break;
    }
    ADD_FAILURE() << n << " x '" << text << "' not logged; stderr:\n" << read_file(err());
    return false;
  }

  // Both paths for every reader; `allowed` says who `allow` lets in.
  void expect_both_paths(const std::string& value, const std::function<bool(const Reader&)>& allowed) {
    for (const auto& r : readers) {
      const bool segment = reads_segment(r, value);
      const bool socket = reads_socket(r, value);
      EXPECT_EQ(segment, allowed(r)) << r.who << ": segment";
      EXPECT_EQ(socket, allowed(r)) << r.who << ": socket";
    }
  }
};

TEST_F(AccessModel, SocketAndSegmentAgreeForEveryReaderAndFollowAReload) {
  const auto s = secret("access");
  put(secrets() / "redis", s);
  write_allow_config("{\"gids\": [4100]}");
  auto agent = start_as_agent_user();
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  next_value(tw, "redis", 0);

  const auto in_group = [](gid_t g) {
    return [g](const Reader& r) {
      return r.id.uid == kAgentUid || r.id.gid == g ||
             std::find(r.id.groups.begin(), r.id.groups.end(), g) != r.id.groups.end();
    };
  };
  struct stat st{};
  ASSERT_EQ(::stat((run_dir() / "segment").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kAgentUid);
  EXPECT_EQ(st.st_gid, kShared);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  expect_both_paths(s, in_group(kShared));

  // A reload to another group moves both paths together.
  write_allow_config("{\"gids\": [4200]}");
  agent->kill(SIGHUP);
  ASSERT_TRUE(wait_for_count(*agent, "config reloaded", 1));
  ASSERT_EQ(::stat((run_dir() / "segment").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, kOther);
  expect_both_paths(s, in_group(kOther));

  // One that file permissions cannot express is refused; the running one stays.
  write_allow_config("{\"gids\": [4100, 4200]}");
  agent->kill(SIGHUP);
  ASSERT_TRUE(wait_for_count(*agent, "allow.gids[1]", 1));
  ASSERT_EQ(::stat((run_dir() / "segment").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, kOther);
  expect_both_paths(s, in_group(kOther));

  // Owner only: with no gid, only the agent's uid reads, on both paths.
  write_allow_config("{\"gids\": []}");
  agent->kill(SIGHUP);
  ASSERT_TRUE(wait_for_count(*agent, "config reloaded", 2));
  ASSERT_EQ(::stat((run_dir() / "segment").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  expect_both_paths(s, [](const Reader& r) { return r.id.uid == kAgentUid; });

  agent->kill(SIGTERM);
  EXPECT_EQ(agent->wait_exit(10000), 0);
  tokenwell_close(tw);
}

TEST_F(AccessModel, CheckConfigNamesAnAllowFilePermissionsCannotExpress) {
  put(secrets() / "redis", secret("check"));
  const auto check = [&](const std::string& allow) {
    write_allow_config(allow);
    fs::remove(err());
    Child c({agent_binary(), "--config", config().string(), "--check-config"}, out(), err(),
            {.as = test::Identity{kAgentUid, kAgentGid, {kShared}}});
    const int rc = c.wait_exit(10000);
    return std::make_pair(rc, read_file(err()));
  };
  EXPECT_EQ(check("{\"gids\": [4100]}").first, 0) << read_file(err());
  EXPECT_EQ(check("{\"uids\": [4000]}").first, 0) << read_file(err());
  auto [rc, text] = check("{\"uids\": [65534]}");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(text.find("allow.uids[0]: uid 65534 is not the agent's own"), std::string::npos) << text;
  std::tie(rc, text) = check("{\"gids\": [4100, 4200]}");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(text.find("allow.gids[1]"), std::string::npos) << text;
  std::tie(rc, text) = check("{\"gids\": [4300]}");  // not a group of the agent's
  EXPECT_EQ(rc, 1);
  EXPECT_NE(text.find("allow.gids[0]: the agent (uid 4000, gid 4000) is not a member of group 4300"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace tw
