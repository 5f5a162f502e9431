// The Agent's loop logic on simulated time, without a process: a reload
// diffs credentials and keysets the same way (added, changed, removed,
// untouched), and a failing IdP is retried with backoff and Retry-After --
// with a simulated clock and timers, fetches run when the test says, a
// scripted HTTP client; never a sleep.
#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "support/test_util.hpp"
#include "tokenwell/agent/app/agent.hpp"
#include "tokenwell/jose/jose.hpp"
#include "tokenwell/agent/common/simulated_time.hpp"

namespace tw {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;
namespace fs = std::filesystem;

constexpr std::int64_t kStart = 1'700'000'000;

class HalfRandom final : public RandomSource {
 public:
  void fill(std::span<unsigned char> out) override {
    const std::uint64_t bits = (std::uint64_t{1} << 52) << 11;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<unsigned char>(bits >> (8 * (i % 8)));
  }
};

class ScriptedHttp final : public HttpClientFactory {
 public:
  struct Client final : HttpClient {
    explicit Client(ScriptedHttp& script_owner) : owner(script_owner) {}
    Result<HttpResponse> send(const HttpRequest& request) override {
      owner.requests.push_back(request.url);
      if (owner.script.empty()) return make_error("connection refused");
      HttpResponse r = std::move(owner.script.front());
      owner.script.pop_front();
      return r;
    }
    ScriptedHttp& owner;
  };
  std::shared_ptr<HttpClient> create(const HttpClientOptions&) override { return std::make_shared<Client>(*this); }
  void answer(int status, std::string body, std::vector<HttpHeader> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = Secret(std::move(body));
    r.headers = std::move(headers);
    script.push_back(std::move(r));
  }
  std::deque<HttpResponse> script;
  std::vector<std::string> requests;
};

void put(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::trunc) << text; }

class AgentTest : public ::testing::Test {
 protected:
  std::string file_credential(const std::string& name, const std::string& username = "default") {
    put(dir / (name + ".secret"), "secret-of-" + name);
    return R"({"name": ")" + name + R"(", "source": "file", "path": ")" + (dir / (name + ".secret")).string() +
           R"(", "username": ")" + username + R"("})";
  }
  void write_config(const std::string& credentials, const std::string& keysets = "") {
    put(dir / "config.json", R"({"runtime_dir": ")" + (dir / "run").string() + R"(", "listen": "",)" +
                                 R"( "credentials": [)" + credentials + R"(], "keysets": [)" + keysets + "]}");
  }
  std::unique_ptr<Agent> start_agent() {
    auto loaded = load_config(dir / "config.json", [](std::string_view) { return std::optional<std::string>{}; });
    if (auto* errors = std::get_if<ConfigErrors>(&loaded)) {
      ADD_FAILURE() << errors->lines.front();
      return nullptr;
    }
    auto agent = std::make_unique<Agent>(std::get<AgentConfig>(loaded), dir / "config.json",
                                         [](std::string_view) { return std::optional<std::string>{}; },
                                         AgentOptions{}, AgentServices{&time, &fetches, &http, &random});
    auto started = agent->start();
    EXPECT_TRUE(started) << started.error().message;
    return agent;
  }
  // name -> (source, state, username) as GET /v1/credentials lists them.
  std::map<std::string, std::string> listing(Agent& agent) {
    std::map<std::string, std::string> out;
    for (const auto& e : agent.api().entries())
      out[e.name] = e.source + (e.state == ApiBackend::State::valid ? " valid " : " not-valid ") + e.username;
    return out;
  }

  test::TempDir dir;
  SimulatedTime time{Clock::time_point(seconds(kStart))};
  ManualFetchExecutor fetches;
  ScriptedHttp http;
  HalfRandom random;
};

TEST_F(AgentTest, ReloadAddsChangesAndRemovesCredentialsAndKeysetsAlike) {
  const std::string generated = R"({"name": "sessions", "source": "generated"})";
  write_config(file_credential("a") + "," + file_credential("b"), generated);
  auto agent = start_agent();
  ASSERT_TRUE(agent);
  fetches.run_pending();
  EXPECT_EQ(listing(*agent), (std::map<std::string, std::string>{
                                 {"a", "file valid default"},
                                 {"b", "file valid default"},
                                 {"sessions", "generated valid "}}));
  const auto a_generation = std::get<ApiBackend::CredentialValue>(agent->api().credential("a")).generation;

  // a: untouched; b: changed; c: added; the keyset: removed; another added.
  write_config(file_credential("a") + "," + file_credential("b", "operator") + "," + file_credential("c"),
               R"({"name": "more", "source": "generated", "algorithm": "EdDSA"})");
  agent->reload();
  EXPECT_EQ(listing(*agent).at("b"), "file valid default") << "a changed entry keeps its value until replaced";
  fetches.run_pending();
  EXPECT_EQ(listing(*agent), (std::map<std::string, std::string>{
                                 {"a", "file valid default"},
                                 {"b", "file valid operator"},
                                 {"c", "file valid default"},
                                 {"more", "generated valid "}}));
  EXPECT_EQ(std::get<ApiBackend::CredentialValue>(agent->api().credential("a")).generation, a_generation)
      << "an unchanged credential is not fetched again";
  EXPECT_EQ(std::get<ApiBackend::Missing>(agent->api().jwks("sessions")), ApiBackend::Missing::unknown_name);
  EXPECT_EQ(agent->api().request_keyset_refresh("more").answer, ApiBackend::RefreshAnswer::accepted);
  EXPECT_EQ(agent->api().request_keyset_refresh("a").answer, ApiBackend::RefreshAnswer::unknown_name)
      << "a credential is not a keyset";
}

TEST_F(AgentTest, ARejectedReloadKeepsEverythingRunning) {
  write_config(file_credential("a"));
  auto agent = start_agent();
  fetches.run_pending();
  put(dir / "config.json", R"({"credentials": [{"name": "a", "source": "nope"}]})");
  agent->reload();
  EXPECT_EQ(listing(*agent), (std::map<std::string, std::string>{{"a", "file valid default"}}));
}

std::string access_token(std::int64_t exp) {
  const std::string header = jose::base64url_encode(R"({"alg":"RS256","typ":"JWT"})");
  const std::string claims = jose::base64url_encode(
      nlohmann::json{{"sub", "client-1"}, {"iat", exp - 3600}, {"exp", exp}}.dump());
  return header + "." + claims + "." + jose::base64url_encode("signature");
}

TEST_F(AgentTest, AFailingIdpIsRetriedWithBackoffAndRetryAfter) {
  put(dir / "client.secret", "client-secret");
  write_config(R"({"name": "api", "source": "oauth2", "token_url": "https://idp.example/token",)"
               R"( "client_id": "client-1", "auth": {"method": "client_secret", "secret_file": ")" +
               (dir / "client.secret").string() + R"("}, "refresh": {"retry_min": "1s", "retry_max": "1m"}})");
  http.answer(503, R"({"error": "temporarily_unavailable"})", {{"retry-after", "120"}});
  http.answer(500, R"({"error": "server_error"})");
  http.answer(200, nlohmann::json{{"token_type", "Bearer"}, {"expires_in", 3600},
                                  {"access_token", access_token(kStart + 3600 + 121)}}
                       .dump());
  auto agent = start_agent();
  ASSERT_EQ(fetches.run_pending(), 1u);  // 503, Retry-After: 120
  EXPECT_EQ(listing(*agent).at("api"), "oauth2 not-valid ");
  // Retry-After, then the jittered backoff after it (first failure: 1 s).
  time.advance(120s);
  EXPECT_EQ(fetches.run_pending(), 0u) << "retried before Retry-After and its backoff";
  time.advance(1s);
  ASSERT_EQ(fetches.run_pending(), 1u);  // 500: backoff from retry_min (second failure: 1.5 s)
  time.advance(1499ms);
  EXPECT_EQ(fetches.run_pending(), 0u);
  time.advance(1ms);
  ASSERT_EQ(fetches.run_pending(), 1u);  // 200
  EXPECT_EQ(listing(*agent).at("api"), "oauth2 valid client-1");
  EXPECT_EQ(http.requests.size(), 3u);
}

}  // namespace
}  // namespace tw
