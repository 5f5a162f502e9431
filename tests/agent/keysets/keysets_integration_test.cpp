// Keysets over real parts: the JWKS fetch over real HTTPS (test CA) from
// tests/fakes/jwks_server.py -- discovery, Cache-Control within bounds, keys
// with unknown kty skipped, a set with no usable key and every outage keeping
// the last good set -- and the real tokenwell-agent binary with all three
// keyset sources: GET /v1/keysets/NAME/jwks over the socket, the segment
// entries in the contract format, the rate-limited refetch, --once, and a
// restart that adopts the generated keys.
//
// Every wait is on an event with a bound (pidfd, tokenwell_wait, the socket).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "agent/api/api_test_support.hpp"
#include "jose_test_support.hpp"
#include "support/test_util.hpp"
#include "support/child_process.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/keysets/jwk.hpp"
#include "tokenwell/agent/keysets/jwks_keyset.hpp"
#include "tokenwell/agent/segment/segment_writer.hpp"
#include "tokenwell/tokenwell.h"

namespace tw {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

using test::read_file;

std::vector<std::string> kids_of(const std::string& jwks) {
  std::vector<std::string> out;
  const json doc = json::parse(jwks);
  for (const auto& k : doc["keys"]) out.push_back(k["kid"]);
  return out;
}

// Output and errors of a child in one log file.
class Child : public test::Child {
 public:
  Child(const std::vector<std::string>& args, const fs::path& log) : test::Child(args, log, log) {}
};

// tests/fakes/jwks_server.py as a child process, and its admin API.
class JwksServer {
 public:
  explicit JwksServer(const fs::path& dir)
      : dir_(dir), child_({TOKENWELL_PYTHON3, TOKENWELL_JWKS_SERVER, "--state-dir", dir.string()}, dir / "server.log") {
    for (int i = 0; i < 1000 && !fs::exists(dir / "jwks_server.json"); ++i)
      if (child_.wait_exit(10) >= 0) break;  // bounded: 10 ms per look
    info_ = json::parse(read_file(dir / "jwks_server.json"));
  }
  std::string issuer() const { return info_["issuer"]; }
  std::string jwks_uri() const { return info_["jwks_uri"]; }
  fs::path ca_file() const { return info_["ca_file"].get<std::string>(); }

  void set_jwks(const std::string& body) { admin(HttpMethod::post, "/_admin/jwks", body); }
  void settings(const json& s) { admin(HttpMethod::post, "/_admin/settings", s.dump()); }
  // How many HTTPS requests were made to `path` so far.
  int requests(const std::string& path) {
    int n = 0;
    for (const auto& r : json::parse(admin(HttpMethod::get, "/_admin/requests", "")))
      if (r["path"] == path) ++n;
    return n;
  }

 private:
  std::string admin(HttpMethod m, const std::string& path, const std::string& body) {
    auto r = http_.send({.method = m,
                         .url = "http://127.0.0.1:" + std::to_string(info_["admin_port"].get<int>()) + path,
                         .body = Secret(body)});
    EXPECT_TRUE(r && r->status == 200) << path;
    return r ? std::string(r->body.reveal()) : "";
  }
  fs::path dir_;
  Child child_;
  json info_;
  CurlHttpClient http_;
};

class FixedRandom final : public RandomSource {
 public:
  void fill(std::span<unsigned char> out) override {
    for (auto& b : out) b = 0;
  }
};

class JwksOverHttps : public ::testing::Test {
 protected:
  tw::testing::TempDir dir;
  JwksServer server{dir.path()};
  const TimePoint now{std::chrono::seconds(1'800'000'000)};
  SimulatedClock clock{now};

  JwksKeysetConfig config(bool discovery = true) {
    JwksKeysetConfig c;
    if (discovery) c.issuer = server.issuer();
    else c.jwks_uri = server.jwks_uri();
    c.timeout = 5s;
    return c;
  }
  std::variant<FetchedJwks, JwksFetchError> fetch(const JwksKeysetConfig& c) {
    CurlHttpClient http({.ca_file = server.ca_file()});
    return JwksFetcher(c, http, clock).fetch();
  }
};

TEST_F(JwksOverHttps, DiscoveryFindsTheJwksAndCacheControlSetsTheNextRefreshWithinBounds) {
  auto c = config();
  FixedRandom random;
  JwksRefreshState state(c, random);

  server.settings({{"cache_control", "public, max-age=900"}});
  auto r = fetch(c);
  ASSERT_TRUE(std::holds_alternative<FetchedJwks>(r)) << std::get<JwksFetchError>(r).message;
  EXPECT_EQ(std::get<FetchedJwks>(r).keys, 1u);
  EXPECT_EQ(kids_of(std::get<FetchedJwks>(r).jwks), std::vector<std::string>{"default-1"});
  auto step = state.on_result(std::move(r), now);
  EXPECT_TRUE(step.publish);
  EXPECT_EQ(step.next_attempt, now + 15min);
  EXPECT_EQ(server.requests("/.well-known/openid-configuration"), 1);
  EXPECT_EQ(server.requests("/jwks"), 1);

  server.settings({{"cache_control", "max-age=10"}});  // below refresh_min (5m)
  EXPECT_EQ(state.on_result(fetch(c), now + 15min).next_attempt, now + 15min + 5min);
  server.settings({{"cache_control", "max-age=31536000"}});  // above refresh_max (24h)
  EXPECT_EQ(state.on_result(fetch(c), now + 20min).next_attempt, now + 20min + 24h);
  server.settings({{"cache_control", nullptr}});  // none: refresh_default (1h)
  EXPECT_EQ(state.on_result(fetch(c), now + 30min).next_attempt, now + 30min + 1h);
}

TEST_F(JwksOverHttps, UnknownKeyTypesAreSkippedAndASetWithNoUsableKeyKeepsTheLastGood) {
  auto c = config(/*discovery=*/false);
  FixedRandom random;
  JwksRefreshState state(c, random);
  auto ec = generate_jwk(KeyAlgorithm::ES256);
  server.set_jwks(json{{"keys", {{{"kty", "PQC"}, {"kid", "future"}}, ec->public_jwk}}}.dump());
  auto r = fetch(c);
  ASSERT_TRUE(std::holds_alternative<FetchedJwks>(r));
  EXPECT_EQ(std::get<FetchedJwks>(r).skipped, std::vector<std::string>{"keys[0]: kty: unsupported key type 'PQC'"});
  ASSERT_TRUE(state.on_result(std::move(r), now).publish);
  const std::string good = state.current()->jwks;
  EXPECT_EQ(kids_of(good), std::vector<std::string>{ec->kid});

  server.set_jwks(R"({"keys":[{"kty":"PQC","kid":"future"}]})");
  r = fetch(c);
  ASSERT_TRUE(std::holds_alternative<JwksFetchError>(r));
  EXPECT_NE(std::get<JwksFetchError>(r).message.find("JWKS has no usable signing key"), std::string::npos);
  EXPECT_FALSE(state.on_result(std::move(r), now + 1h).publish);
  EXPECT_EQ(state.current()->jwks, good);
  EXPECT_EQ(server.requests("/.well-known/openid-configuration"), 0) << "jwks_uri skips discovery";
}

TEST_F(JwksOverHttps, EveryOutageKeepsTheLastSet) {
  auto c = config();
  FixedRandom random;
  JwksRefreshState state(c, random);
  ASSERT_TRUE(state.on_result(fetch(c), now).publish);
  const std::string good = state.current()->jwks;
  TimePoint t = now + 1h;
  const std::vector<std::pair<json, std::string>> outages = {
      {{{"fault", "status"}, {"fault_status", 500}}, "answered HTTP 500"},
      {{{"fault", "status"}, {"fault_status", 404}}, "answered HTTP 404"},
      {{{"fault", "malformed"}}, "not a JSON object"},
      {{{"fault", "down"}}, "discovery: "},
  };
  for (const auto& [fault, expected] : outages) {
    server.settings(fault);
    auto r = fetch(c);
    ASSERT_TRUE(std::holds_alternative<JwksFetchError>(r)) << fault.dump();
    EXPECT_NE(std::get<JwksFetchError>(r).message.find(expected), std::string::npos)
        << std::get<JwksFetchError>(r).message;
    auto step = state.on_result(std::move(r), t);
    EXPECT_FALSE(step.publish);
    EXPECT_LT(step.next_attempt, t + 5min) << "a failure retries soon";
    EXPECT_EQ(state.current()->jwks, good);
    t = step.next_attempt;
  }
  // Throttled: Retry-After is obeyed, whatever the backoff says.
  server.settings({{"fault", "status"}, {"fault_status", 429}, {"retry_after", "120"}});
  auto throttled = fetch(c);
  ASSERT_TRUE(std::holds_alternative<JwksFetchError>(throttled));
  EXPECT_EQ(std::get<JwksFetchError>(throttled).retry_after, 120s);
  EXPECT_GE(state.on_result(std::move(throttled), t).next_attempt, t + 120s);
  server.settings({{"fault", nullptr}, {"retry_after", nullptr}, {"issuer_override", "https://impostor.example"}});
  auto r = fetch(c);
  ASSERT_TRUE(std::holds_alternative<JwksFetchError>(r));
  EXPECT_NE(std::get<JwksFetchError>(r).message.find("issuer does not match"), std::string::npos);
  server.settings({{"issuer_override", nullptr}});
  EXPECT_FALSE(state.on_result(fetch(c), t).publish) << "recovered with the same set";
  EXPECT_EQ(state.consecutive_failures(), 0u);
}

TEST_F(JwksOverHttps, TlsIsVerified) {
  auto c = config();
  CurlHttpClient http;  // without the test CA
  auto r = JwksFetcher(c, http, clock).fetch();
  ASSERT_TRUE(std::holds_alternative<JwksFetchError>(r));
  EXPECT_EQ(std::get<JwksFetchError>(r).http_status, 0);
}

// ---- an independent implementation -------------------------------------------------

// PyJWT (the test venv's) verifies a token our signer made against the JWKS,
// signs with the private JWK, and verifies that too. Returns its verdict.
std::string pyjwt_interop(const fs::path& dir, const std::string& jwks, std::string_view private_jwk,
                          const std::string& token) {
  std::ofstream(dir / "jwks.json") << jwks;
  std::ofstream(dir / "private.json") << private_jwk;
  int rc = -1;
  {
    Child py({TOKENWELL_PYTHON3, TOKENWELL_PYJWT_INTEROP, "check", (dir / "jwks.json").string(),
              (dir / "private.json").string(), token},
             dir / "pyjwt.out");
    rc = py.wait_exit(30000);
  }
  fs::remove(dir / "private.json");
  const std::string out = read_file(dir / "pyjwt.out");
  fs::remove(dir / "pyjwt.out");
  return rc == 0 ? "ok" : "exit " + std::to_string(rc) + ": " + out;
}

TEST(PyJwtInterop, KeysOfEveryAlgorithmWorkInPyJwt) {
  tw::testing::TempDir dir;
  for (auto alg : {KeyAlgorithm::ES256, KeyAlgorithm::RS256, KeyAlgorithm::PS256, KeyAlgorithm::EdDSA}) {
    SCOPED_TRACE(std::string(jwa_name(alg)));
    auto key = generate_jwk(alg);
    ASSERT_TRUE(key);
    const std::string token =
        test::sign_jwt(std::string(key->private_jwk.reveal()), {{"exp", std::time(nullptr) + 300}});
    EXPECT_EQ(pyjwt_interop(dir.path(), jwks_json({key->public_jwk}), key->private_jwk.reveal(), token), "ok");
  }
  // And it is a real check: a token from another key does not pass.
  auto a = generate_jwk(KeyAlgorithm::ES256);
  auto b = generate_jwk(KeyAlgorithm::ES256);
  const std::string foreign = test::sign_jwt(std::string(b->private_jwk.reveal()), {{"exp", std::time(nullptr) + 300}});
  EXPECT_NE(pyjwt_interop(dir.path(), jwks_json({a->public_jwk}), a->private_jwk.reveal(), foreign), "ok");
}

// ---- the real agent ---------------------------------------------------------------

class AgentWithKeysets : public ::testing::Test {
 protected:
  tw::testing::TempDir dir;
  JwksServer server{dir.path() / "jwks"};
  fs::path run_dir() const { return dir.path() / "run"; }
  fs::path keys_dir() const { return dir.path() / "keys"; }
  fs::path config() const { return dir.path() / "config.json"; }
  fs::path log() const { return dir.path() / "agent.log"; }

  void SetUp() override {
    fs::create_directories(keys_dir());
    auto signing = generate_jwk(KeyAlgorithm::ES256);
    std::ofstream(keys_dir() / "2026-11-01.json") << signing->private_jwk.reveal();
    signing_file_secret_ = std::string(json::parse(signing->private_jwk.reveal())["d"]);
    std::ofstream(keys_dir() / "garbage.pem") << "not a key";
    const json c = {
        {"runtime_dir", run_dir().string()},
        {"listen", "127.0.0.1:0"},
        {"log", {{"level", "debug"}}},
        {"keysets",
         {{{"name", "idp"}, {"source", "jwks"}, {"issuer", server.issuer()}, {"ca_file", server.ca_file().string()},
           {"refresh", {{"cooldown", "60s"}}}},
          {{"name", "sessions"}, {"source", "key_files"}, {"directory", keys_dir().string()}},
          // Apps sign with dev in-process; sessions signs through the socket (the default).
          {{"name", "dev"}, {"source", "generated"}, {"algorithm", "ES256"}, {"rotate_every", "24h"},
           {"publish_ahead", "1h"}, {"retain", "25h"}, {"private_in_segment", true}}}}};
    std::ofstream(config()) << c.dump();
  }

  void TearDown() override {
    // No private key material in any log line.
    const std::string logs = read_file(log());
    EXPECT_EQ(logs.find(signing_file_secret_), std::string::npos);
    EXPECT_EQ(logs.find("\"d\""), std::string::npos);
  }

  std::unique_ptr<Child> start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {TOKENWELL_AGENT, "--config", config().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Child>(args, log());
  }

  // Waits until /readyz answers 200 over the socket.
  bool wait_ready(Child& agent) {
    for (int i = 0; i < 1000; ++i) {
      auto r = tw::testing::get_unix(run_dir() / "agent.sock", "/readyz");
      if (r && r->result_int() == 200) return true;
      if (agent.wait_exit(10) >= 0) break;
    }
    ADD_FAILURE() << "agent not ready; log:\n" << read_file(log());
    return false;
  }

  // A keyset's public JWKS and generation, read through libtokenwell while
  // the agent runs.
  std::pair<std::string, std::uint64_t> read_public(const char* name) {
    tokenwell* tw = nullptr;
    EXPECT_EQ(tokenwell_open(run_dir().c_str(), &tw), TOKENWELL_OK);
    std::vector<char> buf(256 * 1024);
    size_t len = 0;
    int kind = 0;
    std::uint64_t generation = 0;
    EXPECT_EQ(tokenwell_stat(tw, name, &kind, nullptr, nullptr), TOKENWELL_OK) << name;
    EXPECT_EQ(kind, TOKENWELL_KIND_KEYSET);
    EXPECT_EQ(tokenwell_read_public(tw, name, buf.data(), buf.size(), &len, &generation), TOKENWELL_OK);
    tokenwell_close(tw);
    return {std::string(buf.data(), len), generation};
  }

  // The whole entry (JWKS and private signing key) as the segment holds it,
  // once the agent has stopped (the segment stays; its writer lock is free).
  StoredKeyset read_stored(const char* name) {
    SystemClock clock;
    auto w = SegmentWriter::open(run_dir(), {}, clock);
    EXPECT_TRUE(w) << (w ? "" : w.error().message);
    if (!w) return {};
    auto e = (*w)->entry(name);
    EXPECT_TRUE(e && e->kind == SlotKind::keyset && e->username.empty() && e->expires_at == 0) << name;
    auto k = (*w)->keyset(name);
    EXPECT_TRUE(k) << name;
    return k ? std::move(*k) : StoredKeyset{};
  }

  // A scrape of /metrics on the agent's TCP listener (its port is in the
  // latest "started" log line: the log is appended to across restarts).
  std::string metrics() {
    const std::string logs = read_file(log());
    const auto at = logs.rfind("\"listen\":\":");
    if (at == std::string::npos) {
      ADD_FAILURE() << "no listen port in the log";
      return "";
    }
    const int port = std::atoi(logs.c_str() + at + 11);
    CurlHttpClient http;
    auto r = http.send({.url = "http://127.0.0.1:" + std::to_string(port) + "/metrics"});
    EXPECT_TRUE(r && r->status == 200);
    return r ? std::string(r->body.reveal()) : "";
  }

  void stop(Child& agent) {
    agent.kill(SIGTERM);
    ASSERT_EQ(agent.wait_exit(10000), 0) << read_file(log());
  }

  // POST /v1/keysets/NAME/sign with `claims` as the body.
  std::optional<tw::testing::Reply> sign(const std::string& target, const std::string& claims) {
    auto c = tw::testing::TestClient::unix_socket(run_dir() / "agent.sock");
    if (!c.connected()) return std::nullopt;  // not listening yet
    c.send("POST " + target + " HTTP/1.1\r\nHost: tokenwell\r\nContent-Length: " + std::to_string(claims.size()) +
           "\r\n\r\n" + claims);
    return c.read_reply();
  }

  // The `tokenwell` CLI on this runtime directory, optionally as another user.
  struct CliResult {
    int exit_code;
    std::string out, err;
  };
  CliResult run(std::vector<std::string> argv, std::optional<test::Identity> as = std::nullopt) {
    fs::remove(dir.path() / "cli.out");
    fs::remove(dir.path() / "cli.err");
    test::Child c(argv, dir.path() / "cli.out", dir.path() / "cli.err", {.as = as});
    const int rc = c.wait_exit(10000);
    return {rc, read_file(dir.path() / "cli.out"), read_file(dir.path() / "cli.err")};
  }
  CliResult cli(std::vector<std::string> args) {
    args.insert(args.begin(), {TOKENWELL_CLI, "--dir", run_dir().string()});
    return run(args);
  }

  std::string signing_file_secret_;
};

TEST_F(AgentWithKeysets, AllThreeSourcesArePublishedInTheContractFormat) {
  auto agent = start();
  ASSERT_TRUE(wait_ready(*agent));

  for (const char* name : {"idp", "sessions", "dev"}) {
    SCOPED_TRACE(name);
    const auto [jwks, gen] = read_public(name);
    EXPECT_GT(gen, 0u);
    const json published = json::parse(jwks);
    ASSERT_FALSE(published["keys"].empty());
    for (const auto& k : published["keys"]) {
      EXPECT_FALSE(k.contains("d"));
      EXPECT_EQ(k["use"], "sig");
      EXPECT_TRUE(k.contains("kid") && k.contains("alg") && k.contains("kty"));
    }
    auto over_socket = tw::testing::get_unix(run_dir() / "agent.sock", std::string("/v1/keysets/") + name + "/jwks");
    ASSERT_TRUE(over_socket);
    EXPECT_EQ(over_socket->result_int(), 200);
    EXPECT_EQ(json::parse(over_socket->body()), published);
  }
  EXPECT_EQ(kids_of(read_public("idp").first), std::vector<std::string>{"default-1"});
  EXPECT_EQ(tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/nope/jwks")->result_int(), 404);
  EXPECT_NE(read_file(log()).find("garbage.pem"), std::string::npos) << "the bad file is reported";

  // A new key file: the agent notices (inotify) and the newer key signs.
  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open(run_dir().c_str(), &tw), TOKENWELL_OK);
  const auto before = read_public("sessions");
  auto newer = generate_jwk(KeyAlgorithm::EdDSA);
  std::ofstream(keys_dir() / "2026-12-01.json.tmp") << newer->private_jwk.reveal();
  fs::rename(keys_dir() / "2026-12-01.json.tmp", keys_dir() / "2026-12-01.json");
  std::uint64_t gen = 0;
  ASSERT_EQ(tokenwell_wait(tw, "sessions", before.second, 10000, &gen), TOKENWELL_OK);
  tokenwell_close(tw);
  EXPECT_EQ(kids_of(read_public("sessions").first).size(), 2u);

  // The metrics an operator alerts on, per keyset, from a real scrape.
  const std::string scrape = metrics();
  EXPECT_EQ(tw::testing::metric_value(scrape, R"(tokenwell_keyset_keys{keyset="idp"})"), 1);
  EXPECT_EQ(tw::testing::metric_value(scrape, R"(tokenwell_keyset_keys{keyset="dev"})"), 1);
  EXPECT_EQ(tw::testing::metric_value(scrape, R"(tokenwell_keyset_keys{keyset="sessions"})"), 2);
  EXPECT_EQ(tw::testing::metric_value(scrape, R"(tokenwell_keyset_skipped_keys{keyset="sessions"})"), 1)
      << "garbage.pem";
  EXPECT_GE(*tw::testing::metric_value(scrape, R"(tokenwell_keyset_refresh_total{keyset="idp",result="success"})"), 1);
  EXPECT_EQ(tw::testing::metric_value(scrape, R"(tokenwell_keyset_consecutive_failures{keyset="idp"})"), 0);
  EXPECT_TRUE(tw::testing::metric_value(scrape, R"(tokenwell_keyset_last_success_timestamp_seconds{keyset="idp"})"));
  EXPECT_TRUE(
      tw::testing::metric_value(scrape, R"(tokenwell_keyset_signing_key_activated_timestamp_seconds{keyset="dev"})"));
  EXPECT_EQ(tw::testing::metric_value(scrape, "tokenwell_ready"), 1);
  stop(*agent);

  // The segment entries: verify-only keysets, and signing ones without
  // private_in_segment, have no secret; dev (private_in_segment) holds the
  // active private JWK, whose tokens verify against the JWKS.
  EXPECT_TRUE(read_stored("idp").signing_key.empty());
  EXPECT_TRUE(read_stored("sessions").signing_key.empty());
  for (const char* name : {"dev"}) {
    SCOPED_TRACE(name);
    const auto e = read_stored(name);
    const json priv = json::parse(e.signing_key.reveal());
    EXPECT_TRUE(priv.contains("d") && priv.contains("kid") && priv.contains("alg"));
    const std::string token = test::sign_jwt(std::string(e.signing_key.reveal()),
                                             {{"sub", "x"}, {"exp", std::time(nullptr) + 300}});
    EXPECT_TRUE(test::verify_jwt(token, e.jwks, std::time(nullptr)));
    EXPECT_EQ(pyjwt_interop(dir.path(), e.jwks, e.signing_key.reveal(), token), "ok");
  }
}

TEST_F(AgentWithKeysets, RefetchOnRequestIsRateLimited) {
  auto agent = start();
  ASSERT_TRUE(wait_ready(*agent));
  const auto before = read_public("idp");
  const int fetches = server.requests("/jwks");

  // The IdP rotated; a verifier meets the new kid and asks for a refetch.
  auto ec = generate_jwk(KeyAlgorithm::ES256);
  server.set_jwks(jwks_json({ec->public_jwk}));
  auto r = tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/idp/refresh", "POST");
  ASSERT_TRUE(r);
  // The initial fetch started the cooldown (60 s): this ask comes too soon.
  EXPECT_EQ(r->result_int(), 429);
  EXPECT_FALSE(std::string((*r)[boost::beast::http::field::retry_after]).empty());
  for (int i = 0; i < 20; ++i) {
    auto again = tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/idp/refresh", "POST");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->result_int(), 429);
  }
  EXPECT_EQ(server.requests("/jwks"), fetches) << "a flood of refresh requests does not reach the IdP";
  EXPECT_EQ(read_public("idp").first, before.first);
  EXPECT_EQ(tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/nope/refresh", "POST")->result_int(), 404);
  // key_files re-reads on request.
  EXPECT_EQ(tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/sessions/refresh", "POST")->result_int(), 202);
}

TEST_F(AgentWithKeysets, AfterTheCooldownARefetchPublishesTheIdpsNewKey) {
  json c = json::parse(read_file(config()));
  c["keysets"][0]["refresh"]["cooldown"] = "1s";
  std::ofstream(config()) << c.dump();
  auto agent = start();
  ASSERT_TRUE(wait_ready(*agent));
  const auto before = read_public("idp");
  auto rotated = generate_jwk(KeyAlgorithm::RS256);
  server.set_jwks(jwks_json({rotated->public_jwk}));
  // Asked until the cooldown since the first fetch has passed (bounded).
  int answer = 0;
  for (int i = 0; i < 500 && answer != 202; ++i) {
    auto r = tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/idp/refresh", "POST");
    ASSERT_TRUE(r);
    answer = r->result_int();
    if (answer == 429) {
      ASSERT_EQ(agent->wait_exit(10), -1);
    }
  }
  ASSERT_EQ(answer, 202);
  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open(run_dir().c_str(), &tw), TOKENWELL_OK);
  std::uint64_t gen = 0;
  EXPECT_EQ(tokenwell_wait(tw, "idp", before.second, 10000, &gen), TOKENWELL_OK);
  tokenwell_close(tw);
  EXPECT_EQ(kids_of(read_public("idp").first), std::vector<std::string>{rotated->kid});
}

TEST_F(AgentWithKeysets, ARestartAdoptsTheGeneratedKeys) {
  {
    auto agent = start();
    ASSERT_TRUE(wait_ready(*agent));
    stop(*agent);
  }
  const auto first = read_stored("dev");
  const std::string token = test::sign_jwt(std::string(first.signing_key.reveal()), {{"exp", std::time(nullptr) + 600}});
  {
    auto agent = start();
    ASSERT_TRUE(wait_ready(*agent));
    // Adopted keys are unchanged, yet this process reports them.
    EXPECT_EQ(tw::testing::metric_value(metrics(), R"(tokenwell_keyset_keys{keyset="dev"})"), 1);
    stop(*agent);
  }
  const auto second = read_stored("dev");
  EXPECT_TRUE(second.signing_key == first.signing_key) << "the active key keeps signing after a restart";
  EXPECT_TRUE(test::verify_jwt(token, second.jwks, std::time(nullptr)));
  EXPECT_NE(read_file(log()).find("adopted the previous keys"), std::string::npos);
}

// The claims of a compact JWS, unverified (the tests verify separately).
json claims_of(const std::string& token) {
  const auto d1 = token.find('.'), d2 = token.rfind('.');
  return json::parse(*jose::base64url_decode(token.substr(d1 + 1, d2 - d1 - 1)));
}
std::string kid_of(const std::string& token) {
  return json::parse(*jose::base64url_decode(token.substr(0, token.find('.'))))["kid"];
}

TEST_F(AgentWithKeysets, WithoutPrivateInSegmentNoPrivateKeyByteIsInTheSegmentAndTheSocketSigns) {
  auto agent = start();
  ASSERT_TRUE(wait_ready(*agent));
  const auto segment_bytes = [&] { return read_file(run_dir() / "segment"); };
  // The key file's private scalar, in no byte of the segment any reader maps.
  EXPECT_EQ(segment_bytes().find(signing_file_secret_), std::string::npos);

  auto r = sign("/v1/keysets/sessions/sign?ttl=120", R"({"sub":"alice","aud":"api"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->result_int(), 200) << r->body();
  EXPECT_EQ((*r)[boost::beast::http::field::cache_control], "no-store");
  const std::string token = json::parse(r->body())["token"];
  const json claims = claims_of(token);
  EXPECT_EQ(claims["sub"], "alice");
  EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), 120);
  EXPECT_EQ(kid_of(token), kids_of(read_public("sessions").first).back());  // the file that sorts last signs
  EXPECT_TRUE(test::verify_jwt(token, read_public("sessions").first, std::time(nullptr)));
  auto verified = cli({"jwt", "verify", "sessions", token, "--aud", "api"});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_EQ(json::parse(verified.out)["sub"], "alice");
  // Without ?ttl: the CLI's default, 300 s.
  const json plain = claims_of(json::parse(sign("/v1/keysets/sessions/sign", "{}")->body())["token"]);
  EXPECT_EQ(plain["exp"].get<std::int64_t>() - plain["iat"].get<std::int64_t>(), 300);

  // The CLI finds no private key in the segment and asks the socket.
  auto signed_by_cli = cli({"jwt", "sign", "sessions", "--claims", R"({"sub":"bob"})", "--ttl", "2m"});
  ASSERT_EQ(signed_by_cli.exit_code, 0) << signed_by_cli.err;
  std::string cli_token = signed_by_cli.out;
  cli_token.pop_back();  // the newline
  EXPECT_EQ(claims_of(cli_token)["exp"].get<std::int64_t>() - claims_of(cli_token)["iat"].get<std::int64_t>(), 120);
  EXPECT_EQ(cli({"jwt", "verify", "sessions", cli_token}).exit_code, 0);

  // Every refusal, each naming what is wrong.
  const auto error_of = [&](const std::string& target, const std::string& body) {
    auto a = sign(target, body);
    return std::make_pair(a ? static_cast<int>(a->result_int()) : 0, a ? json::parse(a->body()).value("error", "") : "");
  };
  EXPECT_EQ(error_of("/v1/keysets/nope/sign", "{}").first, 404);
  EXPECT_EQ(error_of("/v1/keysets/idp/sign", "{}"),
            std::make_pair(409, std::string("keyset has no signing key (verify only)")));
  EXPECT_EQ(error_of("/v1/keysets/sessions/sign", "[1]"), std::make_pair(400, std::string("claims: not a JSON object")));
  EXPECT_EQ(error_of("/v1/keysets/sessions/sign", "{\"a\":"), std::make_pair(400, std::string("claims: not a JSON object")));
  EXPECT_EQ(error_of("/v1/keysets/sessions/sign", R"({"a":1,"a":2})"),
            std::make_pair(400, std::string("claims: a member appears twice")));
  EXPECT_EQ(error_of("/v1/keysets/sessions/sign?ttl=0", "{}").first, 400);
  EXPECT_EQ(error_of("/v1/keysets/sessions/sign?ttl=31622401", "{}").first, 400);
  EXPECT_EQ(cli({"jwt", "sign", "idp", "--claims", "{}"}).exit_code, 4);
  const auto bad_claims = cli({"jwt", "sign", "sessions", "--claims", "[1]"});
  EXPECT_EQ(bad_claims.exit_code, 2);
  EXPECT_NE(bad_claims.err.find("claims: not a JSON object"), std::string::npos) << bad_claims.err;

  // SO_PEERCRED: a caller outside `allow` (the agent's uid and gid) is
  // refused, with real curl as nobody.
  auto refused = run({"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket",
                      (run_dir() / "agent.sock").string(), "-X", "POST", "--data", "{}",
                      "http://tokenwell/v1/keysets/sessions/sign"},
                     test::Identity{65534, 65534, {}});
  EXPECT_EQ(refused.out, "403") << refused.err;

  // The metrics' path label is the route's template, never a keyset name.
  const std::string scrape = metrics();
  EXPECT_EQ(tw::testing::metric_value(scrape, R"(tokenwell_socket_requests_total{code="200",path="/v1/keysets/{name}/sign"})"), 3);
  // A refused caller is answered when its connection is accepted, before its
  // request (and so its path) is read.
  EXPECT_EQ(tw::testing::metric_value(scrape, R"(tokenwell_socket_requests_total{code="403",path="other"})"), 1);
  EXPECT_EQ(scrape.find("/v1/keysets/nope"), std::string::npos);

  EXPECT_EQ(segment_bytes().find(signing_file_secret_), std::string::npos);
  stop(*agent);
  EXPECT_TRUE(read_stored("sessions").signing_key.empty());
  EXPECT_EQ(segment_bytes().find(signing_file_secret_), std::string::npos);
}

TEST_F(AgentWithKeysets, PrivateInSegmentKeepsSigningLocallyWithTheAgentGone) {
  auto agent = start();
  ASSERT_TRUE(wait_ready(*agent));
  stop(*agent);
  // No agent to ask: dev's key is in the segment, sessions' is not.
  auto local = cli({"jwt", "sign", "dev", "--claims", R"({"sub":"carol"})", "--ttl", "90s"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  local.out.pop_back();
  EXPECT_EQ(claims_of(local.out)["exp"].get<std::int64_t>() - claims_of(local.out)["iat"].get<std::int64_t>(), 90);
  EXPECT_EQ(cli({"jwt", "verify", "dev", local.out}).exit_code, 0);
  const auto gone = cli({"jwt", "sign", "sessions", "--claims", "{}"});
  EXPECT_EQ(gone.exit_code, 5);
  EXPECT_NE(gone.err.find("agent.sock"), std::string::npos) << gone.err;
}

TEST_F(AgentWithKeysets, AReloadThatTurnsPrivateInSegmentOffLeavesNoPrivateKeyByteInTheSegment) {
  json c = json::parse(read_file(config()));
  c["keysets"][1]["private_in_segment"] = true;
  std::ofstream(config()) << c.dump();
  auto agent = start();
  ASSERT_TRUE(wait_ready(*agent));
  const auto segment_bytes = [&] { return read_file(run_dir() / "segment"); };
  ASSERT_NE(segment_bytes().find(signing_file_secret_), std::string::npos) << "in the segment on purpose";
  const std::uint64_t before = read_public("sessions").second;

  c["keysets"][1].erase("private_in_segment");
  std::ofstream(config()) << c.dump();
  agent->kill(SIGHUP);
  tokenwell* tw = nullptr;
  ASSERT_EQ(tokenwell_open(run_dir().c_str(), &tw), TOKENWELL_OK);
  std::uint64_t gen = 0;
  EXPECT_EQ(tokenwell_wait(tw, "sessions", before, 10000, &gen), TOKENWELL_OK);
  tokenwell_close(tw);
  EXPECT_EQ(segment_bytes().find(signing_file_secret_), std::string::npos);
  auto r = sign("/v1/keysets/sessions/sign", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200) << "the socket signs with the same key";
  stop(*agent);
}

TEST_F(AgentWithKeysets, SigningWithKeysNotLoadedYetIs503UntilTheyAre) {
  const fs::path later = dir.path() / "later";
  fs::create_directories(later);
  json c = json::parse(read_file(config()));
  c["keysets"].push_back({{"name", "later"}, {"source", "key_files"}, {"directory", later.string()}});
  std::ofstream(config()) << c.dump();
  auto agent = start();
  int answer = 0;
  for (int i = 0; i < 1000 && answer != 503; ++i) {
    auto r = sign("/v1/keysets/later/sign", "{}");
    answer = r ? r->result_int() : 0;
    if (answer != 503) { ASSERT_EQ(agent->wait_exit(10), -1) << read_file(log()); }
  }
  ASSERT_EQ(answer, 503);
  EXPECT_EQ(cli({"jwt", "sign", "later", "--claims", "{}"}).exit_code, 4);
  auto key = generate_jwk(KeyAlgorithm::ES256);
  std::ofstream(later / "k.json.tmp") << key->private_jwk.reveal();
  fs::rename(later / "k.json.tmp", later / "k.json");
  // Read at once (key_files re-reads on request), not at the watch's pace.
  EXPECT_EQ(tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/later/refresh", "POST")->result_int(), 202);
  for (int i = 0; i < 1000 && answer != 200; ++i) {
    answer = sign("/v1/keysets/later/sign", "{}")->result_int();
    if (answer != 200) { ASSERT_EQ(agent->wait_exit(10), -1); }
  }
  EXPECT_EQ(answer, 200);
  stop(*agent);
}

// A generated keyset without private_in_segment: its private keys die with a
// killed agent. The restarted one signs with a new key and keeps the old
// public keys, verify-only, so tokens signed before still verify.
TEST_F(AgentWithKeysets, AKilledAgentsTokensStillVerifyAfterARestartWithoutThePrivateKey) {
  json c = json::parse(read_file(config()));
  c["keysets"][2].erase("private_in_segment");
  std::ofstream(config()) << c.dump();
  std::string before;
  {
    auto agent = start();
    ASSERT_TRUE(wait_ready(*agent));
    before = json::parse(sign("/v1/keysets/dev/sign?ttl=600", R"({"sub":"dave"})")->body())["token"];
    agent->kill(SIGKILL);
    ASSERT_EQ(agent->wait_exit(10000), 128 + SIGKILL);
  }
  EXPECT_TRUE(read_stored("dev").signing_key.empty());
  auto agent = start();
  ASSERT_TRUE(wait_ready(*agent));
  const std::string jwks = read_public("dev").first;
  const std::string after = json::parse(sign("/v1/keysets/dev/sign", R"({"sub":"erin"})")->body())["token"];
  EXPECT_NE(kid_of(after), kid_of(before)) << "a new key signs";
  EXPECT_EQ(kids_of(jwks), (std::vector<std::string>{kid_of(before), kid_of(after)}));
  EXPECT_TRUE(test::verify_jwt(before, jwks, std::time(nullptr)));
  EXPECT_EQ(cli({"jwt", "verify", "dev", before}).exit_code, 0);
  EXPECT_EQ(cli({"jwt", "verify", "dev", after}).exit_code, 0);
  EXPECT_NE(read_file(log()).find("kept the previous public keys as verify-only"), std::string::npos);
  stop(*agent);
}

TEST_F(AgentWithKeysets, OnceFetchesEveryKeysetAndFailsWhenOneFails) {
  auto ok = start({"--once"});
  EXPECT_EQ(ok->wait_exit(30000), 0) << read_file(log());
  EXPECT_EQ(kids_of(read_stored("idp").jwks), std::vector<std::string>{"default-1"});
  EXPECT_FALSE(read_stored("dev").signing_key.empty());
  server.settings({{"fault", "status"}, {"fault_status", 503}});
  auto failing = start({"--once"});
  EXPECT_EQ(failing->wait_exit(30000), 1);
}

TEST_F(AgentWithKeysets, ReadinessWaitsForEveryKeysetAndReloadAddsAndRemoves) {
  server.settings({{"fault", "status"}, {"fault_status", 500}});
  auto agent = start();
  // Everything but the IdP's keys is there; /readyz says which one is missing.
  for (int i = 0; i < 1000; ++i) {
    auto r = tw::testing::get_unix(run_dir() / "agent.sock", "/readyz");
    // ... and its first fetch has met the outage.
    if (r && r->body().find("idp") != std::string::npos && server.requests("/.well-known/openid-configuration") > 0)
      break;
    ASSERT_EQ(agent->wait_exit(10), -1) << read_file(log());
  }
  auto r = tw::testing::get_unix(run_dir() / "agent.sock", "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 503);
  EXPECT_NE(r->body().find("idp"), std::string::npos);
  server.settings({{"fault", nullptr}});
  ASSERT_TRUE(wait_ready(*agent));  // the backoff retry (1 s first) brings it
  EXPECT_GE(server.requests("/.well-known/openid-configuration"), 2);

  // SIGHUP: drop "dev", keep the others.
  json c = json::parse(read_file(config()));
  c["keysets"].erase(2);
  std::ofstream(config()) << c.dump();
  agent->kill(SIGHUP);
  for (int i = 0; i < 1000; ++i) {
    auto gone = tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/dev/jwks");
    if (gone && gone->result_int() == 404) break;
    ASSERT_EQ(agent->wait_exit(10), -1);
  }
  EXPECT_EQ(tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/dev/jwks")->result_int(), 404);
  EXPECT_EQ(tw::testing::get_unix(run_dir() / "agent.sock", "/v1/keysets/sessions/jwks")->result_int(), 200);
}

}  // namespace
}  // namespace tw
