// The real tokenwell-agent against the Entra ID stand-in over real HTTPS,
// read back through the real `tokenwell` CLI and libtokenwell: every auth
// method publishes a token whose username is the principal's oid; an IdP
// outage longer than a token's life serves the last token until its exp,
// then "no valid value" (exit 4), then a fresh token soon after the IdP
// returns; a 429's Retry-After holds the agent back.
//
// The wall-clock parts (outage, Retry-After) use 6-second tokens; waits are
// on events (tokenwell_wait, the child's exit) with generous bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/api/api_test_support.hpp"
#include "entra_test_support.hpp"
#include "standin_process.hpp"
#include "support/child_process.hpp"
#include "tokenwell/agent/sources/entra/token_response.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

using nlohmann::json;
using test::Child;

class EntraAgent : public ::testing::Test {
 protected:
  void SetUp() override { standin_ = std::make_unique<StandIn>(dir_ / "standin"); }
  void TearDown() override {
    agent_.reset();
    // Nothing secret in the agent's logs: not the client secret, not a token.
    const std::string logs = test::read_file(dir_ / "agent.err") + test::read_file(dir_ / "agent.out");
    EXPECT_EQ(logs.find(test::read_file(standin().file("client_secret"))), std::string::npos);
    EXPECT_EQ(logs.find("eyJ"), std::string::npos) << "a JWT in the agent's logs";
    tokenwell_close(reader_);
  }
  StandIn& standin() { return *standin_; }
  std::filesystem::path run_dir() const { return dir_ / "run"; }

  json entra(const std::string& name, const json& auth) { return standin().entra_credential(name, auth); }
  json secret_credential(const std::string& name) {
    return entra(name, {{"method", "client_secret"}, {"secret_file", standin().file("client_secret")}});
  }

  // Starts the agent on these credentials and waits until it made its segment.
  void start_agent(const std::vector<json>& credentials, std::vector<std::string> env = {},
                   std::vector<std::string> prefix = {}, const std::vector<json>& keysets = {}) {
    json config = {{"runtime_dir", run_dir().string()},
                   {"listen", ""},
                   {"log", {{"level", "debug"}}},
                   {"credentials", credentials}};
    if (!keysets.empty()) config["keysets"] = keysets;
    test::write_file(dir_ / "config.json", config.dump());
    std::vector<std::string> argv = std::move(prefix);
    for (std::string a : {std::string(TOKENWELL_AGENT), std::string("--config"), (dir_ / "config.json").string()})
      argv.push_back(a);
    agent_ = std::make_unique<Child>(argv,
        dir_ / "agent.out", dir_ / "agent.err", test::ChildOptions{.extra_env = std::move(env)});
    for (int i = 0; i < 1000 && !reader_; ++i) {
      if (tokenwell_open(run_dir().c_str(), &reader_) == TOKENWELL_OK) break;
      ASSERT_EQ(agent_->wait_exit(10), -1) << "agent exited:\n" << test::read_file(dir_ / "agent.err");
    }
    ASSERT_NE(reader_, nullptr) << test::read_file(dir_ / "agent.err");
  }

  // Stops the agent with SIGKILL (no shutdown code runs), as a crash or an
  // OOM kill would, and starts it again on the same config and segment.
  void kill_and_restart_agent() {
    kill_agent();
    restart_agent();
  }
  void kill_agent() {
    agent_->kill(SIGKILL);
    ASSERT_EQ(agent_->wait_exit(10000), 128 + SIGKILL);
  }
  void restart_agent() {
    restart_log_offset_ = test::read_file(dir_ / "agent.err").size();
    std::vector<std::string> argv = {TOKENWELL_AGENT, "--config", (dir_ / "config.json").string()};
    agent_ = std::make_unique<Child>(argv, dir_ / "agent.out", dir_ / "agent.err");
  }

  // Waits for a valid value newer than `after`; returns its generation.
  std::uint64_t wait_valid(const std::string& name, std::uint64_t after = 0, int timeout_ms = 30000) {
    for (;;) {
      std::uint64_t gen = 0;
      const int rc = tokenwell_wait(reader_, name.c_str(), after, timeout_ms, &gen);
      if (rc != TOKENWELL_OK) {
        ADD_FAILURE() << name << ": no new generation after " << after << ": " << tokenwell_strerror(rc)
                      << "\nagent stderr:\n" << test::read_file(dir_ / "agent.err");
        return 0;
      }
      if (tokenwell_stat(reader_, name.c_str(), nullptr, nullptr, nullptr) == TOKENWELL_OK) return gen;
      after = gen;  // the "pending" placeholder: wait for the real value
    }
  }

  struct CliResult {
    int exit_code;
    std::string out, err;
  };
  CliResult cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {TOKENWELL_CLI, "--dir", run_dir().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::filesystem::remove(dir_ / "cli.out");
    std::filesystem::remove(dir_ / "cli.err");
    Child c(argv, dir_ / "cli.out", dir_ / "cli.err");
    const int rc = c.wait_exit(10000);
    return {rc, test::read_file(dir_ / "cli.out"), test::read_file(dir_ / "cli.err")};
  }

  // `tokenwell get NAME --json`: the username is the token's oid claim.
  void expect_published_with_oid(const std::string& name, const std::string& oid) {
    SCOPED_TRACE(name);
    wait_valid(name);
    const auto r = cli({"get", name, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto got = json::parse(r.out);
    EXPECT_EQ(got["name"], name);
    EXPECT_EQ(got["username"], oid);
    EXPECT_GT(got["generation"].get<std::uint64_t>(), 0u);
    const auto claims = parse_jwt_payload(got["token"].get<std::string>());
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->claims["oid"], oid);
    EXPECT_EQ(claims->claims["aud"], "https://redis.azure.com");
    EXPECT_EQ(claims->claims["exp"], got["expires_at"]);
  }

  // The stand-in logs a request after answering it: its log may lag a
  // publish by a moment. Waits (bounded) for at least `count` token requests.
  std::vector<json> token_requests_at_least(std::size_t count) {
    auto requests = standin().token_requests();
    for (int i = 0; i < 500 && requests.size() < count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      requests = standin().token_requests();
    }
    return requests;
  }

  // The restarted agent's log lines (after kill_and_restart_agent()) that
  // contain every one of `parts`; waits (bounded) for one.
  bool wait_for_restart_log(const std::vector<std::string>& parts) {
    for (int i = 0; i < 1000; ++i) {
      std::istringstream lines(test::read_file(dir_ / "agent.err").substr(restart_log_offset_));
      for (std::string line; std::getline(lines, line);)
        if (std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return line.find(p) != std::string::npos; }))
          return true;
      if (agent_->wait_exit(10) >= 0) break;
    }
    return false;
  }

  test::TempDir dir_;
  std::size_t restart_log_offset_ = 0;
  std::unique_ptr<StandIn> standin_;
  std::unique_ptr<Child> agent_;
  tokenwell* reader_ = nullptr;
};

TEST_F(EntraAgent, EveryAuthMethodPublishesATokenWhoseUsernameIsTheOid) {
  test::ProjectedFile federated(dir_.path(), "azure-identity-token");
  federated.write(standin().federated_token());
  const auto& identities = standin().info()["config"]["managed_identities"];
  const std::string imds = standin().http_base_url() + "metadata/identity/oauth2/token";
  start_agent(
      {secret_credential("secret"),
       entra("cert-ps256", {{"method", "client_certificate"}, {"certificate_file", standin().file("client_certificate")}}),
       entra("cert-rs256", {{"method", "client_certificate"},
                            {"certificate_file", standin().file("client_certificate")},
                            {"algorithm", "RS256"},
                            {"send_x5c", true}}),
       // On AKS the webhook's variables are all an entry needs.
       {{"name", "workload"}, {"source", "entra"}, {"ca_file", standin().ca_file()}},
       {{"name", "imds-system"}, {"source", "entra"}, {"auth", {{"method", "managed_identity"}, {"endpoint", imds}}}},
       {{"name", "imds-user"},
        {"source", "entra"},
        {"auth", {{"method", "managed_identity"}, {"endpoint", imds}, {"client_id", identities[1]["client_id"]}}}}},
      {"AZURE_TENANT_ID=" + standin().tenant(), "AZURE_CLIENT_ID=" + standin().client_id(),
       "AZURE_FEDERATED_TOKEN_FILE=" + federated.path().string(), "AZURE_AUTHORITY_HOST=" + standin().base_url()});
  for (const char* name : {"secret", "cert-ps256", "cert-rs256", "workload"})
    expect_published_with_oid(name, standin().oid());
  expect_published_with_oid("imds-system", identities[0]["object_id"]);
  expect_published_with_oid("imds-user", identities[1]["object_id"]);

  std::vector<std::string> auths;
  for (const auto& r : standin().token_requests()) auths.push_back(r.value("auth", ""));
  for (const char* a : {"client_secret#1", "client_assertion:PS256", "client_assertion:RS256"})
    EXPECT_NE(std::find(auths.begin(), auths.end(), a), auths.end()) << a;
}

TEST_F(EntraAgent, AppServiceManagedIdentityFromItsEnvironment) {
  const auto& identities = standin().info()["config"]["managed_identities"];
  start_agent({{{"name", "redis"},
                {"source", "entra"},
                {"auth", {{"method", "managed_identity"}, {"object_id", identities[1]["object_id"]}}}}},
              {"IDENTITY_ENDPOINT=" + standin().http_base_url() + "msi/token",
               "IDENTITY_HEADER=" + standin().info()["config"]["app_service"]["identity_header"].get<std::string>()});
  expect_published_with_oid("redis", identities[1]["object_id"]);
}

TEST_F(EntraAgent, OutageServesTheLastTokenUntilItsExpThenRecovers) {
  standin().admin(HttpMethod::post, "/settings", {{"token_lifetime", 6}});
  auto c = secret_credential("redis");
  c["refresh"] = {{"retry_min", "1s"}, {"retry_max", "2s"}};
  start_agent({c});
  const std::uint64_t g1 = wait_valid("redis");
  standin().fault({{"mode", "down"}});

  // Every read until the token's exp gets that token; the first read that
  // does not is "no valid value", at or after exp — never an error earlier.
  char token[16384];
  size_t len = 0;
  std::int64_t exp = 0;
  std::uint64_t gen = 0;
  ASSERT_EQ(tokenwell_read(reader_, "redis", token, sizeof token, &len, nullptr, 0, &exp, &gen), TOKENWELL_OK);
  const std::string served(token, len);
  int reads = 0;
  for (;;) {
    std::int64_t e = 0;
    const int rc = tokenwell_read(reader_, "redis", token, sizeof token, &len, nullptr, 0, &e, &gen);
    if (rc != TOKENWELL_OK) {
      EXPECT_EQ(rc, TOKENWELL_ENOVALUE) << tokenwell_strerror(rc);
      EXPECT_GE(time(nullptr), exp) << "the token stopped being served before its exp";
      break;
    }
    ++reads;
    EXPECT_EQ(std::string(token, len), served);
    EXPECT_EQ(e, exp);
    // Bounded: a 6-second token outlives at most ~10 s of 1 ms naps.
    ASSERT_LT(reads, 20000) << "still served long after exp " << exp;
    usleep(1000);
  }
  EXPECT_EQ(gen, g1) << "nothing new was published while the IdP was down";
  const auto r = cli({"get", "redis"});
  EXPECT_EQ(r.exit_code, 4) << "expired: no valid value";
  EXPECT_EQ(r.out, "");

  // Retries go on after the token expired (a refused connection is not in
  // the stand-in's log, so count what the agent says it tried): wait for
  // five failures, which also keeps the outage longer than a lifetime.
  const auto failures = [&] {
    const std::string log = test::read_file(dir_ / "agent.err");
    std::size_t n = 0;
    for (auto p = log.find("refresh failed"); p != std::string::npos; p = log.find("refresh failed", p + 1)) ++n;
    return n;
  };
  for (int i = 0; i < 3000 && failures() < 5; ++i) ASSERT_EQ(agent_->wait_exit(10), -1);
  ASSERT_GE(failures(), 5u) << "retries stopped during the outage";

  const auto failed_before_return = standin().token_requests().size();
  standin().fault({{"mode", "up"}});
  const auto returned = std::chrono::system_clock::now();
  wait_valid("redis", gen);
  EXPECT_EQ(cli({"get", "redis"}).exit_code, 0);
  // The first request after the return got the new token: no gap
  // longer than retry_max (2 s) plus generous slack for a loaded machine.
  const auto requests = standin().token_requests();
  ASSERT_GT(requests.size(), failed_before_return);
  const double first_after = requests.back()["time"].get<double>();
  const double back = std::chrono::duration<double>(returned.time_since_epoch()).count();
  EXPECT_LT(first_after - back, 2.0 + 5.0);
  EXPECT_EQ(requests.back()["status"], 200);
}

TEST_F(EntraAgent, RetryAfterHoldsTheNextRequestBack) {
  // Tokens with time to spare (a Retry-After that outlasts the token is cut,
  // RefreshStateTest.RetryAfterNeverHoldsTheAttemptPastTheUsableValue),
  // refreshed every 2 s by the IdP's refresh_in, without jitter.
  standin().admin(HttpMethod::post, "/settings", {{"token_lifetime", 100}, {"refresh_in", 2}});
  auto c = secret_credential("redis");
  c["refresh"] = {{"retry_min", "1s"}, {"retry_max", "2s"}, {"jitter", 0}};  // without Retry-After: back within 2 s
  start_agent({c});
  // The first refresh after a start is spread (it may come at once); the
  // fault waits for it, so the 429 answers the refresh 2 s after it.
  const std::uint64_t g2 = wait_valid("redis", wait_valid("redis"));
  standin().fault({{"target", "token"}, {"mode", "status"}, {"status", 429}, {"retry_after", "4"}, {"count", 1}});
  wait_valid("redis", g2);
  const auto requests = standin().token_requests();
  ASSERT_GE(requests.size(), 3u);
  std::size_t throttled = 0;
  for (std::size_t i = 0; i < requests.size(); ++i)
    if (requests[i]["status"] == 429) throttled = i;
  ASSERT_GT(throttled, 0u) << "no 429 was served";
  ASSERT_LT(throttled + 1, requests.size());
  const double wait = requests[throttled + 1]["time"].get<double>() - requests[throttled]["time"].get<double>();
  EXPECT_GE(wait, 4.0) << "the agent came back before Retry-After";
  EXPECT_EQ(requests[throttled + 1]["status"], 200);
}

TEST_F(EntraAgent, RotatedClientSecretIsUsedOnTheNextRequest) {
  standin().admin(HttpMethod::post, "/settings", {{"token_lifetime", 6}});
  auto c = secret_credential("redis");
  const auto secret_file = dir_ / "client-secret";
  test::write_file(secret_file, test::read_file(standin().file("client_secret")));
  c["auth"]["secret_file"] = secret_file.string();
  start_agent({c});
  const std::uint64_t g1 = wait_valid("redis");
  // The operator's rotation: a new secret registered, the file replaced
  // atomically, the old secret revoked.
  const std::string next = "rotated-client-secret-0123456789";
  standin().admin(HttpMethod::post, "/settings", {{"add_secret", next}});
  test::write_file(secret_file, next);
  standin().admin(HttpMethod::post, "/settings", {{"revoke_secret", test::read_file(standin().file("client_secret"))}});
  wait_valid("redis", g1);
  const auto requests = standin().token_requests();
  EXPECT_EQ(requests.back()["status"], 200);
  EXPECT_EQ(requests.back()["auth"], "client_secret#2");
  const std::string logs = test::read_file(dir_ / "agent.err");
  EXPECT_EQ(logs.find(next), std::string::npos);
}

// An IdP whose error description echoes the client secret and the request as
// it received them (form-encoded), runs past any sensible log line and ends
// with a copy cut inside the client secret (issue 11: leaked on 9 log lines). The agent's
// log, GET /v1/credentials and `tokenwell status --json` keep the error code
// and the AADSTS number, and no form of the secret, whole or cut.
TEST_F(EntraAgent, AnIdpErrorThatEchoesTheRequestLeavesNoFormOfTheSecretAnywhere) {
  // Characters that each encoding changes: form (~ stays, + / = & " \ and
  // non-ASCII escaped), base64 (+ / =), JSON (" \ and \u00e9).
  const std::string secret = "Tw3~sEcr.T_9Zp+Qy/Rx=Wv&Ku\"Lm\\Jn\xc3\xa9x";
  standin().admin(HttpMethod::post, "/settings", {{"add_secret", secret}});
  const auto secret_file = dir_ / "client-secret";
  test::write_file(secret_file, secret);
  auto c = secret_credential("redis");
  c["auth"]["secret_file"] = secret_file.string();
  c["refresh"] = {{"retry_min", "50ms"}, {"retry_max", "200ms"}};
  // Every token request; the echoed secret starts 185 bytes into the
  // description, so it straddles where the agent cuts it (200 bytes).
  standin().fault({{"target", "token"}, {"mode", "echo"}, {"at", 185}, {"cut", 12}});
  start_agent({c});

  std::string printed;  // every byte `tokenwell status --json` wrote
  json redis;
  for (int i = 0; i < 3000; ++i) {
    const auto r = cli({"status", "--json"});
    printed += r.out + r.err;
    if (r.exit_code != 5 && !r.out.empty()) {
      const json doc = json::parse(r.out);
      for (const auto& e : doc["entries"])
        if (e["name"] == "redis") redis = e;
    }
    if (redis.is_object() && redis["consecutive_failures"].get<int>() >= 3) break;
    ASSERT_EQ(agent_->wait_exit(10), -1) << test::read_file(dir_ / "agent.err");
  }
  ASSERT_TRUE(redis.is_object()) << printed;
  ASSERT_GE(redis["consecutive_failures"].get<int>(), 3) << redis.dump();
  const auto requests = standin().token_requests();
  ASSERT_GE(requests.size(), 3u);
  EXPECT_EQ(requests.front()["fault"], "echo");

  const auto reply = testing::get_unix(run_dir() / "agent.sock", "/v1/credentials");
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->result_int(), 200);
  const std::string listed = reply->body();
  const std::string logs = test::read_file(dir_ / "agent.err") + test::read_file(dir_ / "agent.out");

  // Still said: what the IdP refused and why.
  const std::string last_error = redis["last_error"];
  for (const std::string& said : {std::string("invalid_client"), std::string("AADSTS7000215")}) {
    EXPECT_NE(logs.find(said), std::string::npos) << said;
    EXPECT_NE(last_error.find(said), std::string::npos) << last_error;
    EXPECT_NE(listed.find(said), std::string::npos) << said;
  }

  // The secret as the agent sent it and as anyone may re-encode it.
  const std::string form(form_encode({{"client_secret", secret}}).reveal().substr(std::string("client_secret=").size()));
  std::string form_lower = form;
  for (std::size_t i = 0; i + 2 < form_lower.size(); ++i) {
    if (form_lower[i] == '%') {
      form_lower[i + 1] = static_cast<char>(std::tolower(static_cast<unsigned char>(form_lower[i + 1])));
      form_lower[i + 2] = static_cast<char>(std::tolower(static_cast<unsigned char>(form_lower[i + 2])));
    }
  }
  const std::string quoted = json(secret).dump(), ascii = json(secret).dump(-1, ' ', true);
  const std::vector<std::pair<std::string, std::string>> encodings = {
      {"raw", secret},
      {"form-encoded", form},
      {"form-encoded, lower-case hex", form_lower},
      {"base64", base64_encode(secret)},
      {"base64url", base64url_encode(secret)},
      {"JSON-escaped", quoted.substr(1, quoted.size() - 2)},
      {"JSON-escaped, ASCII", ascii.substr(1, ascii.size() - 2)},
      // The copy the IdP cut 12 bytes in: its first 8 are a piece of the secret.
      {"form-encoded, cut", form.substr(0, 8)},
      {"raw, cut", secret.substr(0, 8)},
  };
  for (const auto& [name, encoded] : encodings) {
    EXPECT_EQ(logs.find(encoded), std::string::npos) << name << " in the agent's log";
    EXPECT_EQ(listed.find(encoded), std::string::npos) << name << " in GET /v1/credentials";
    EXPECT_EQ(printed.find(encoded), std::string::npos) << name << " in tokenwell status --json";
  }
}

// `tokenwell status` against the real agent: a credential ok, then failing
// while the IdP is down (the last error shown, exit 0: the value is still
// valid), then expired (exit 4); a keyset; the agent killed (exit 5, the
// segment's view). No secret in any of its output.
TEST_F(EntraAgent, StatusShowsOkFailingExpiredKeysetsAndAnAgentThatIsGone) {
  standin().admin(HttpMethod::post, "/settings", {{"token_lifetime", 6}});
  auto c = secret_credential("redis");
  c["refresh"] = {{"retry_min", "1s"}, {"retry_max", "2s"}};
  start_agent({c}, {}, {},
              // Its private key in the segment, so the test knows what status must never print.
              {{{"name", "sessions"}, {"source", "generated"}, {"algorithm", "ES256"}, {"rotate_every", "1h"},
                {"publish_ahead", "5m"}, {"retain", "2h"}, {"private_in_segment", true}}});
  wait_valid("redis");
  wait_valid("sessions");
  std::string printed;  // every byte status wrote, for the secret check
  const auto status = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "status");
    CliResult r = cli(args);
    printed += r.out + r.err;
    return r;
  };
  const auto entry = [](const json& doc, const std::string& name) {
    for (const auto& e : doc["entries"])
      if (e["name"] == name) return e;
    return json();
  };

  auto r = status({"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json doc = json::parse(r.out);
  EXPECT_EQ(doc["agent_reachable"], true);
  json redis = entry(doc, "redis");
  EXPECT_EQ(redis["kind"], "credential");
  EXPECT_EQ(redis["state"], "ok");
  EXPECT_EQ(redis["source"], "entra");
  EXPECT_EQ(redis["last_error"], "");
  EXPECT_EQ(redis["consecutive_failures"], 0);
  EXPECT_GT(redis["time_left"].get<std::int64_t>(), 0);
  EXPECT_GT(redis["last_refresh"].get<std::int64_t>(), 0);
  EXPECT_GT(redis["next_attempt"].get<std::int64_t>(), 0);
  EXPECT_GT(redis["generation"].get<std::uint64_t>(), 0u);
  const json sessions = entry(doc, "sessions");
  EXPECT_EQ(sessions["kind"], "keyset");
  EXPECT_EQ(sessions["state"], "ok");
  EXPECT_EQ(sessions["source"], "generated");
  r = status({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NAME"), std::string::npos);
  EXPECT_NE(r.out.find("LAST ERROR"), std::string::npos);

  // The secrets status must never show: the token, the client secret, the
  // keyset's private key.
  const std::string token = json::parse(cli({"get", "redis", "--json"}).out)["token"];
  char jwks[16384], key[16384];
  size_t jwks_len = 0, key_len = 0;
  ASSERT_EQ(tokenwell_read_keyset(reader_, "sessions", jwks, sizeof jwks, &jwks_len, key, sizeof key, &key_len,
                                  nullptr),
            TOKENWELL_OK);
  const std::string private_d = json::parse(std::string(key, key_len))["d"];

  // --watch without a terminal: plain blocks, one a second; Ctrl-C ends it with 0.
  {
    std::filesystem::remove(dir_ / "watch.out");
    Child watch({TOKENWELL_CLI, "--dir", run_dir().string(), "status", "--watch"}, dir_ / "watch.out",
                dir_ / "watch.err");
    const auto blocks = [&] {
      const std::string out = test::read_file(dir_ / "watch.out");
      std::size_t n = 0;
      for (auto p = out.find("NAME"); p != std::string::npos; p = out.find("NAME", p + 1)) ++n;
      return n;
    };
    for (int i = 0; i < 1000 && blocks() < 2; ++i) ASSERT_EQ(watch.wait_exit(10), -1);
    EXPECT_GE(blocks(), 2u);
    watch.kill(SIGINT);
    EXPECT_EQ(watch.wait_exit(10000), 0);
    EXPECT_EQ(test::read_file(dir_ / "watch.out").find("\x1b["), std::string::npos) << "ANSI codes without a terminal";
    printed += test::read_file(dir_ / "watch.out") + test::read_file(dir_ / "watch.err");
  }

  // The IdP goes down: failing (still valid, exit 0) with the last error.
  standin().fault({{"mode", "down"}});
  for (int i = 0; i < 3000; ++i) {
    r = status({"--json"});
    redis = entry(json::parse(r.out), "redis");
    if (redis["state"] != "ok") break;
    ASSERT_EQ(agent_->wait_exit(10), -1);
  }
  // The first failed refresh is at ~4.5 s of the token's 6: it stays
  // failing for the last ~1.5 s, many looks long.
  EXPECT_EQ(redis["state"], "failing") << r.out;
  if (redis["state"] == "failing") {
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(redis["last_error"], "");
    EXPECT_GE(redis["consecutive_failures"].get<int>(), 1);
    EXPECT_GT(redis["time_left"].get<std::int64_t>(), 0);
    const auto table = status({});
    EXPECT_EQ(table.exit_code, 0);
    EXPECT_NE(table.out.find("failing"), std::string::npos) << table.out;
  }
  // Then expired: exit 4, the error still there.
  for (int i = 0; i < 3000 && redis["state"] != "expired"; ++i) {
    ASSERT_EQ(agent_->wait_exit(10), -1);
    r = status({"--json"});
    redis = entry(json::parse(r.out), "redis");
  }
  ASSERT_EQ(redis["state"], "expired") << r.out;
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(redis["last_error"], "");
  EXPECT_GE(redis["consecutive_failures"].get<int>(), 1);
  EXPECT_TRUE(redis["time_left"].is_null());
  EXPECT_EQ(entry(json::parse(r.out), "sessions")["state"], "ok");
  r = status({});
  EXPECT_EQ(r.exit_code, 4);
  const std::string error = redis["last_error"];
  EXPECT_NE(r.out.find("expired"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(error), std::string::npos) << "the last error is not in the table:\n" << r.out;

  // The agent is gone: exit 5, and what the segment knows.
  agent_->kill(SIGKILL);
  ASSERT_EQ(agent_->wait_exit(10000), 128 + SIGKILL);
  r = status({});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("agent not reachable"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("redis"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sessions"), std::string::npos) << r.out;
  r = status({"--json"});
  EXPECT_EQ(r.exit_code, 5);
  doc = json::parse(r.out);
  EXPECT_EQ(doc["agent_reachable"], false);
  EXPECT_EQ(entry(doc, "redis")["state"], "expired");
  EXPECT_EQ(entry(doc, "sessions")["state"], "valid");

  // No secret anywhere in what status printed.
  ASSERT_FALSE(token.empty());
  ASSERT_FALSE(private_d.empty());
  EXPECT_EQ(printed.find(token), std::string::npos) << "the token in status output";
  EXPECT_EQ(printed.find(token.substr(token.size() - 20)), std::string::npos) << "part of the token in status output";
  EXPECT_EQ(printed.find(private_d), std::string::npos) << "the private key in status output";
  EXPECT_EQ(printed.find(test::read_file(standin().file("client_secret"))), std::string::npos);
  EXPECT_EQ(printed.find("eyJ"), std::string::npos) << "a JWT in status output";
}

// Without a segment and without an agent: exit 5 and one line saying why.
TEST_F(EntraAgent, StatusWithNoAgentAndNoSegmentExitsFive) {
  const auto r = cli({"status"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("agent not reachable"), std::string::npos) << r.err;
}

// Issue 13: a restarted agent (SIGKILL, then a new one on the same segment)
// keeps a still-valid token and its generation, so readers do not re-AUTH; it
// asks the IdP nothing at start and refreshes on the token's schedule, and
// the new token does get a new generation. An unchanged file keeps its
// generation too; a changed one bumps it.
TEST_F(EntraAgent, RestartAfterSigkillKeepsAnUnchangedTokenAndItsGeneration) {
  standin().admin(HttpMethod::post, "/settings", {{"token_lifetime", 12}});
  const auto file = dir_ / "password";
  test::write_file(file, "file-password-0123456789");
  start_agent({secret_credential("redis"),
               {{"name", "legacy"}, {"source", "file"}, {"path", file.string()}, {"username", "default"}}});
  wait_valid("redis");
  wait_valid("legacy");
  // Logged once the agent also recorded which config published it (a kill
  // between the publish and that record makes a restart fetch at once).
  ASSERT_TRUE(wait_for_restart_log({"\"published\"", "\"credential\":\"redis\""}));

  // Killed: what it left in the segment (the first token's refresh is spread
  // over its first 75%, so it may have refreshed once already).
  kill_agent();
  const auto before = cli({"get", "redis", "--json"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  const std::uint64_t g1 = json::parse(before.out)["generation"];
  const std::uint64_t f1 = json::parse(cli({"get", "legacy", "--json"}).out)["generation"];
  const auto issued = standin().token_requests();
  const std::size_t requests = issued.size();
  ASSERT_GE(requests, 1u);
  const double issued_at = issued.back()["time"];

  restart_agent();
  // The restarted agent has re-read the file (what it did with it is logged:
  // "unchanged; generation kept", or "published" by an agent without the
  // rule); by then it has also decided about the token.
  ASSERT_TRUE(wait_for_restart_log({"\"credential\":\"legacy\"", "generation"}))
      << test::read_file(dir_ / "agent.err");
  EXPECT_EQ(json::parse(cli({"get", "legacy", "--json"}).out)["generation"], f1)
      << "the unchanged file got a new generation";
  const auto after = cli({"get", "redis", "--json"});
  EXPECT_EQ(json::parse(after.out)["generation"], g1) << "the unchanged token got a new generation";
  EXPECT_EQ(after.out, before.out);
  const auto st = cli({"status", "--json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  for (const auto& e : json::parse(st.out)["entries"]) {
    EXPECT_EQ(e["state"], "ok") << e.dump();
    if (e["name"] == "redis") {
      EXPECT_GT(e["next_attempt"].get<std::int64_t>(), time(nullptr));
    }
  }

  // A changed file is a new value.
  test::write_file(file.string() + ".new", "file-password-rotated-0123");
  std::filesystem::rename(file.string() + ".new", file);
  EXPECT_GT(wait_valid("legacy", f1), f1);
  // The token is refreshed on its schedule (75% of 12 s, jitter 5%), not at
  // the restart, and the new one gets a new generation.
  const std::uint64_t g2 = wait_valid("redis", g1);
  EXPECT_GT(g2, g1);
  const auto token_requests = token_requests_at_least(requests + 1);
  ASSERT_EQ(token_requests.size(), requests + 1) << "more than the one scheduled refresh";
  const double since_issue = token_requests.back()["time"].get<double>() - issued_at;
  EXPECT_GE(since_issue, 0.5 * 12) << "the restarted agent asked the IdP before the token's refresh time\n"
                                   << test::read_file(dir_ / "agent.err");
  EXPECT_NE(json::parse(cli({"get", "redis", "--json"}).out)["token"], json::parse(before.out)["token"]);

  // Restarted with another config for the entry: its value is not taken
  // over (a token fetched for another scope or client must not be served as
  // this one's); it is fetched at once and gets a new generation.
  json config = json::parse(test::read_file(dir_ / "config.json"));
  config["credentials"][0]["refresh"] = {{"ratio", 0.8}};
  test::write_file(dir_ / "config.json", config.dump());
  kill_and_restart_agent();
  EXPECT_GT(wait_valid("redis", g2), g2);
  EXPECT_EQ(token_requests_at_least(requests + 2).size(), requests + 2);
}

// The operating surface under abuse, on the real agent: a thousand idle
// connections and slowloris clients on agent.sock, with the agent's default
// limits and a default soft limit of 1,024 open files, while tokens rotate.
// A reader keeps getting valid tokens and every refresh happens.
TEST_F(EntraAgent, AThousandIdleConnectionsAndSlowlorisDoNotStopReadersOrRefreshes) {
  constexpr int kIdle = 1000;
  constexpr int kSlow = 4;
  ASSERT_TRUE(testing::ensure_open_files(2 * kIdle + 256)) << "cannot raise RLIMIT_NOFILE";
  standin().admin(HttpMethod::post, "/settings", {{"token_lifetime", 6}});
  start_agent({secret_credential("redis")}, {}, {"/usr/bin/prlimit", "--nofile=1024:", "--"});
  const std::uint64_t g1 = wait_valid("redis");
  const auto socket = run_dir() / "agent.sock";

  std::vector<testing::TestClient> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(testing::TestClient::unix_socket(socket));
    ASSERT_TRUE(idle.back().connected()) << i << ": " << strerror(errno) << " " << socket;
  }
  // Slowloris clients: a request's headers started and never finished.
  std::vector<testing::TestClient> slow;
  for (int i = 0; i < kSlow; ++i) slow.push_back(testing::slowloris(socket));
  std::vector<bool> cut_off(kSlow, false);
  const auto all_cut_off = [&] {
    for (int i = 0; i < kSlow; ++i)
      if (!cut_off[i]) cut_off[i] = slow[i].wait_closed(0ms);
    return std::all_of(cut_off.begin(), cut_off.end(), [](bool b) { return b; });
  };

  // Until the slow clients are cut off (the default 10 s header timeout)
  // and at least two refreshes of the 6-second token have been published.
  testing::TestClient reader = testing::TestClient::unix_socket(socket);
  unsigned served = 0;
  std::uint64_t gen = g1;
  while (!all_cut_off() || gen < g1 + 2) {
    auto r = reader.request("GET", "/v1/credentials/redis");
    if (!r || r->result_int() != 200 || ++served > 2'000'000u) {
      ADD_FAILURE() << "after " << served << " requests at generation " << gen << ": "
                    << (r ? r->body() : std::string("no answer")) << "\nagent:\n"
                    << test::read_file(dir_ / "agent.err");
      break;
    }
    const auto body = json::parse(r->body());
    EXPECT_GT(body["expires_at"].get<std::int64_t>(), time(nullptr) - 1) << "an expired token was served";
    gen = body["generation"];
  }
  EXPECT_GE(gen, g1 + 2);
  // The idle ones were all still connected (their limit is the idle timeout).
  for (auto& c : idle) EXPECT_FALSE(c.wait_closed(0ms));
  std::printf("%d idle + %d slowloris: %u requests served, generation %llu -> %llu\n", kIdle, kSlow, served,
              static_cast<unsigned long long>(g1), static_cast<unsigned long long>(gen));
}

}  // namespace
}  // namespace tw
