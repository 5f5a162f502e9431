// source_test.cpp -- the entra / oauth2 / managed identity sources against a
// scripted HttpClient on simulated time: what they send, how they read their
// files, and how every failure becomes a FetchError without a secret in it.
#include <gtest/gtest.h>

#include "entra_test_support.hpp"
#include "tokenwell/agent/sources/entra/entra_source.hpp"

namespace tw {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr const char* kTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
constexpr const char* kClient = "0f4e5b8c-1a2b-4c3d-9e8f-112233445566";

std::string token_response(std::int64_t now, std::int64_t lifetime = 3600, const char* oid = "the-oid") {
  return json{{"token_type", "Bearer"},
              {"expires_in", lifetime},
              {"ext_expires_in", lifetime},
              {"access_token", test::make_jwt({{"oid", oid}, {"sub", "svc"}, {"exp", now + lifetime}})}}
      .dump();
}

class SourceTest : public ::testing::Test {
 protected:
  SimulatedClock clock{Clock::time_point(std::chrono::seconds(kNow))};
  test::FakeHttpClient http;
  test::CountingRandom random;
  test::TempDir dir;

  SourceContext context() { return {.http = http, .clock = clock, .random = random, .timeout = 2500ms}; }

  std::unique_ptr<CredentialSource> entra(const json& auth, std::map<std::string, std::string> vars = {}) {
    json j = {{"tenant_id", kTenant}, {"client_id", kClient}, {"auth", auth}};
    auto config = parse_entra_config(j, "credentials[0]", [&](std::string_view n) -> std::optional<std::string> {
      auto it = vars.find(std::string(n));
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
    EXPECT_TRUE(config) << config.error().message;
    return make_entra_source(*config, context());
  }

  static FetchedCredential ok(const FetchResult<FetchedCredential>& r) {
    if (auto* e = std::get_if<FetchError>(&r)) ADD_FAILURE() << e->message;
    return std::get<FetchedCredential>(r);
  }
  static FetchError failed(const FetchResult<FetchedCredential>& r) {
    EXPECT_TRUE(std::holds_alternative<FetchError>(r));
    return std::get<FetchError>(r);
  }
};

TEST_F(SourceTest, ClientSecretPostsTheClientCredentialsForm) {
  test::write_file(dir / "secret", "s3cr&t=value\n");
  auto source = entra({{"method", "client_secret"}, {"secret_file", (dir / "secret").string()}});
  http.respond(200, token_response(kNow));
  const FetchedCredential c = ok(source->fetch());
  EXPECT_EQ(c.username, "the-oid");
  EXPECT_EQ(c.issued_at, kNow);
  EXPECT_EQ(c.expires_at, kNow + 3600);

  ASSERT_EQ(http.requests.size(), 1u);
  const auto& req = http.requests[0];
  EXPECT_EQ(req.method, HttpMethod::post);
  EXPECT_EQ(req.url, std::string("https://login.microsoftonline.com/") + kTenant + "/oauth2/v2.0/token");
  const auto form = test::parse_form(req.body);
  EXPECT_EQ(form, (std::map<std::string, std::string>{{"grant_type", "client_credentials"},
                                                      {"client_id", kClient},
                                                      {"scope", "https://redis.azure.com/.default"},
                                                      {"client_secret", "s3cr&t=value"}}));
}

TEST_F(SourceTest, ClientSecretIsReReadOnlyWhenTheFileChanges) {
  test::ProjectedFile secret(dir.path(), "secret");
  secret.write("first");
  auto source = entra({{"method", "client_secret"}, {"secret_file", secret.path().string()}});
  http.respond(200, token_response(kNow));
  http.respond(200, token_response(kNow));
  http.respond(200, token_response(kNow));
  ok(source->fetch());
  ok(source->fetch());
  secret.write("second");  // Kubernetes' symlink swap
  ok(source->fetch());
  EXPECT_EQ(test::parse_form(http.requests[0].body)["client_secret"], "first");
  EXPECT_EQ(test::parse_form(http.requests[1].body)["client_secret"], "first");
  EXPECT_EQ(test::parse_form(http.requests[2].body)["client_secret"], "second");
}

TEST_F(SourceTest, SecretRewrittenInPlaceIsPickedUp) {
  test::write_file(dir / "secret", "aaaa");
  auto source = entra({{"method", "client_secret"}, {"secret_file", (dir / "secret").string()}});
  http.respond(200, token_response(kNow));
  http.respond(200, token_response(kNow));
  ok(source->fetch());
  {
    std::ofstream same_inode(dir / "secret", std::ios::trunc);  // same size, same inode
    same_inode << "bbbb";
  }
  ok(source->fetch());
  EXPECT_EQ(test::parse_form(http.requests[1].body)["client_secret"], "bbbb");
}

TEST_F(SourceTest, MissingOrEmptySecretFileFailsWithoutARequest) {
  auto source = entra({{"method", "client_secret"}, {"secret_file", (dir / "nope").string()}});
  const FetchError e = failed(source->fetch());
  EXPECT_EQ(e.message, "auth.secret_file: cannot stat " + (dir / "nope").string() + ": No such file or directory");
  EXPECT_EQ(e.http_status, 0);
  test::write_file(dir / "nope", " \n");
  EXPECT_EQ(failed(source->fetch()).message, "auth.secret_file: " + (dir / "nope").string() + ": file is empty");
  EXPECT_TRUE(http.requests.empty());
}

TEST_F(SourceTest, WorkloadIdentitySendsTheFederatedTokenAsAssertion) {
  test::ProjectedFile token(dir.path(), "azure-identity-token");
  const std::string fed1 = test::make_jwt({{"iss", "k8s"}, {"exp", kNow + 3600}});
  const std::string fed2 = test::make_jwt({{"iss", "k8s"}, {"exp", kNow + 7200}});
  token.write(fed1 + "\n");
  auto source = entra(json::object(), {{"AZURE_FEDERATED_TOKEN_FILE", token.path().string()}});
  http.respond(200, token_response(kNow));
  http.respond(200, token_response(kNow));
  ok(source->fetch());
  token.write(fed2);
  ok(source->fetch());
  auto form = test::parse_form(http.requests[0].body);
  EXPECT_EQ(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  EXPECT_EQ(form["client_assertion"], fed1);
  EXPECT_EQ(form.count("client_secret"), 0u);
  EXPECT_EQ(test::parse_form(http.requests[1].body)["client_assertion"], fed2);
}

TEST_F(SourceTest, ExpiredFederatedTokenIsNotSent) {
  test::write_file(dir / "t", test::make_jwt({{"exp", kNow - 10}}));
  auto source = entra({{"method", "workload_identity"}, {"token_file", (dir / "t").string()}});
  const FetchError e = failed(source->fetch());
  EXPECT_NE(e.message.find("the federated token expired at " + std::to_string(kNow - 10)), std::string::npos);
  EXPECT_TRUE(http.requests.empty());
}

TEST_F(SourceTest, ClientCertificateAssertionUsesTheClockAndFreshJtis) {
  const auto tc = test::make_test_certificate(2048, 100'000'000);
  test::write_file(dir / "c.pem", tc.cert_pem + tc.key_pem);
  auto source = entra({{"method", "client_certificate"}, {"certificate_file", (dir / "c.pem").string()}});
  http.respond(200, token_response(kNow));
  http.respond(200, token_response(kNow + 60));
  ok(source->fetch());
  clock.advance(60s);
  ok(source->fetch());
  std::vector<json> claims;
  for (const auto& r : http.requests) {
    auto form = test::parse_form(r.body);
    EXPECT_EQ(form["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    auto p = parse_jwt_payload(form["client_assertion"]);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->header["alg"], "PS256");
    claims.push_back(p->claims);
  }
  EXPECT_EQ(claims[0]["aud"], std::string("https://login.microsoftonline.com/") + kTenant + "/oauth2/v2.0/token");
  EXPECT_EQ(claims[0]["iat"], kNow);
  EXPECT_EQ(claims[0]["exp"], kNow + 300);
  EXPECT_EQ(claims[1]["iat"], kNow + 60);
  EXPECT_NE(claims[0]["jti"], claims[1]["jti"]);
}

TEST_F(SourceTest, ExpiredCertificateFailsLocally) {
  const auto tc = test::make_test_certificate(2048, 3600);
  test::write_file(dir / "c.pem", tc.cert_pem + tc.key_pem);
  auto source = entra({{"method", "client_certificate"}, {"certificate_file", (dir / "c.pem").string()}});
  clock.set(Clock::time_point(std::chrono::seconds(time(nullptr) + 7200)));
  EXPECT_NE(failed(source->fetch()).message.find("the certificate expired at"), std::string::npos);
}

TEST_F(SourceTest, IdpErrorsBecomeFetchErrorsWithoutTheSecret) {
  test::write_file(dir / "secret", "hunter2-very-secret");
  auto source = entra({{"method", "client_secret"}, {"secret_file", (dir / "secret").string()}});
  http.respond(401, json{{"error", "invalid_client"},
                         {"error_description", "AADSTS7000215: Invalid client secret provided: hunter2-very-secret"},
                         {"error_codes", {7000215}}}
                        .dump());
  const FetchError e = failed(source->fetch());
  EXPECT_EQ(e.http_status, 401);
  EXPECT_FALSE(e.retry_after);
  EXPECT_EQ(e.message, std::string("token endpoint https://login.microsoftonline.com/") + kTenant +
                           "/oauth2/v2.0/token: HTTP 401 invalid_client: AADSTS7000215: Invalid client secret "
                           "provided: [redacted]");
}

TEST_F(SourceTest, RetryAfterOn429And503) {
  test::write_file(dir / "secret", "s");
  auto source = entra({{"method", "client_secret"}, {"secret_file", (dir / "secret").string()}});
  http.respond(429, R"({"error":"temporarily_unavailable"})", {{"retry-after", "17"}});
  http.respond(503, "", {{"retry-after", "Tue, 14 Nov 2023 22:14:50 GMT"}});
  http.respond(500, "", {{"retry-after", "5"}});
  const FetchError throttled = failed(source->fetch());
  EXPECT_EQ(throttled.http_status, 429);
  EXPECT_EQ(throttled.retry_after, 17s);
  const FetchError unavailable = failed(source->fetch());
  EXPECT_EQ(unavailable.retry_after, 90s);  // the date is 90 s after kNow
  EXPECT_EQ(unavailable.message.substr(unavailable.message.find("HTTP")), "HTTP 503 (no OAuth2 error in a 0-byte body)");
  EXPECT_FALSE(failed(source->fetch()).retry_after);  // only 429/503 carry it
}

TEST_F(SourceTest, TransportErrorsAndBadTokens) {
  test::write_file(dir / "secret", "s");
  auto source = entra({{"method", "client_secret"}, {"secret_file", (dir / "secret").string()}});
  http.fail("POST https://login.microsoftonline.com/t/oauth2/v2.0/token: timed out after 2500 ms");
  http.respond(200, "{\"access_token\": 5}");
  http.respond(200, token_response(kNow - 7200));
  const FetchError timeout = failed(source->fetch());
  EXPECT_EQ(timeout.http_status, 0);
  EXPECT_NE(timeout.message.find("timed out after 2500 ms"), std::string::npos);
  EXPECT_NE(failed(source->fetch()).message.find(": bad token response: access_token: expected a string, got number"),
            std::string::npos);
  EXPECT_NE(failed(source->fetch()).message.find(": token refused: access_token: expired at"), std::string::npos);
}

TEST_F(SourceTest, RequestsCarryTheTimeout) {
  test::write_file(dir / "secret", "s");
  auto source = entra({{"method", "client_secret"}, {"secret_file", (dir / "secret").string()}});
  http.respond(200, token_response(kNow));
  ok(source->fetch());
  // The FakeHttpClient records what matters; the timeout is checked here.
  struct TimeoutProbe final : HttpClient {
    std::chrono::milliseconds seen{};
    Result<HttpResponse> send(const HttpRequest& r) override {
      seen = r.timeout;
      return make_error("probe");
    }
  } probe;
  auto config = parse_entra_config(json{{"tenant_id", kTenant}, {"client_id", kClient},
                                        {"auth", {{"method", "client_secret"}, {"secret_file", (dir / "secret").string()}}}},
                                   "c");
  ASSERT_TRUE(config);
  auto s2 = make_entra_source(*config, {.http = probe, .clock = clock, .random = random, .timeout = 1234ms});
  failed(s2->fetch());
  EXPECT_EQ(probe.seen, 1234ms);
}

TEST_F(SourceTest, ImdsRequest) {
  auto source = entra({{"method", "managed_identity"}, {"object_id", "obj id"}});
  http.respond(200, json{{"access_token", test::make_jwt({{"oid", "mi-oid"}, {"exp", kNow + 86399}})},
                         {"expires_in", "86399"},
                         {"expires_on", std::to_string(kNow + 86399)},
                         {"resource", "https://redis.azure.com"},
                         {"token_type", "Bearer"}}
                        .dump());
  const FetchedCredential c = ok(source->fetch());
  EXPECT_EQ(c.username, "mi-oid");
  EXPECT_EQ(c.expires_at, kNow + 86399);
  const auto& req = http.requests.at(0);
  EXPECT_EQ(req.method, HttpMethod::get);
  EXPECT_EQ(req.url, "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
                     "&resource=https%3A%2F%2Fredis.azure.com&object_id=obj%20id");
  ASSERT_EQ(req.headers.size(), 1u);
  EXPECT_EQ(req.headers[0].name, "Metadata");
  EXPECT_EQ(req.headers[0].value, "true");
}

TEST_F(SourceTest, AppServiceRequest) {
  auto source = entra({{"method", "managed_identity"}, {"resource_id", "/subscriptions/x/id"}},
                      {{"IDENTITY_ENDPOINT", "http://localhost:4141/msi/token"}, {"IDENTITY_HEADER", "hdr-secret"}});
  http.respond(401, R"({"statusCode":401,"message":"bad header hdr-secret"})");
  const FetchError e = failed(source->fetch());
  EXPECT_EQ(e.message, "managed identity endpoint http://localhost:4141/msi/token: HTTP 401: bad header [redacted]");
  const auto& req = http.requests.at(0);
  EXPECT_EQ(req.url, "http://localhost:4141/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fredis.azure.com"
                     "&mi_res_id=%2Fsubscriptions%2Fx%2Fid");
  ASSERT_EQ(req.headers.size(), 1u);
  EXPECT_EQ(req.headers[0].name, "X-IDENTITY-HEADER");
  EXPECT_EQ(req.headers[0].value, "hdr-secret");
}

TEST_F(SourceTest, OAuth2SourceWithLiteralUsernameAndNoScope) {
  test::write_file(dir / "secret", "s");
  auto config = parse_oauth2_config(json{{"token_url", "https://idp.example/token"},
                                         {"client_id", "svc"},
                                         {"username", {{"value", "app-user"}}},
                                         {"auth", {{"method", "client_secret"}, {"secret_file", (dir / "secret").string()}}}},
                                    "credentials[1]");
  ASSERT_TRUE(config) << config.error().message;
  auto source = make_oauth2_source(*config, context());
  http.respond(200, token_response(kNow));
  EXPECT_EQ(ok(source->fetch()).username, "app-user");
  const auto form = test::parse_form(http.requests.at(0).body);
  EXPECT_EQ(form.count("scope"), 0u);
  EXPECT_EQ(http.requests.at(0).url, "https://idp.example/token");
}

}  // namespace
}  // namespace tw
