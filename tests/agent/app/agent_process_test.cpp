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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
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
    // TOKENWELL_AGENT_UNDER_TEST runs these tests against another build
    // (an older one, to see a new test fail there).
    const char* binary = std::getenv("TOKENWELL_AGENT_UNDER_TEST");
    std::vector<std::string> args = {binary ? binary : TOKENWELL_AGENT, "--config", config().string()};
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
    Child c({TOKENWELL_AGENT, "--config", entry.path().string(), "--check-config"},
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
  // An allow list without this test's uid and gid: its own request is denied.
  put(config(), "{\"runtime_dir\": \"" + run_dir().string() +
                    "\", \"listen\": \"\", \"log\": {\"format\": \"json\"},"
                    " \"allow\": {\"uids\": [4242], \"gids\": [4242]}, \"credentials\": [" +
                    file_credential("redis", secrets() / "redis") + "]}");
  auto agent = start();
  tokenwell* tw = open_reader(*agent);
  ASSERT_NE(tw, nullptr);
  next_value(tw, "redis", 0);
  tokenwell_close(tw);
  ASSERT_TRUE(wait_for_log(*agent, "started"));
  auto r = testing::get_unix(run_dir() / "agent.sock", "/v1/credentials");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 403);
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
    EXPECT_EQ(j["uid"], static_cast<std::int64_t>(getuid()));
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

}  // namespace
}  // namespace tw
