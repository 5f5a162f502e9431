// integration_test.cpp -- every auth method's fetch() over real HTTPS (test
// CA) against the Entra ID stand-in, its strict rejections, rotation of the
// files a source reads, and the faults an IdP can throw at the HTTP client.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "entra_test_support.hpp"
#include "standin_process.hpp"
#include "tokenwell/agent/sources/entra/entra_source.hpp"

namespace tw {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class EntraIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    standin_ = std::make_unique<StandIn>(dir_ / "standin");
    http_ = std::make_unique<CurlHttpClient>(HttpClientOptions{.ca_file = standin_->ca_file()});
  }
  StandIn& standin() { return *standin_; }

  json entra_json(const json& auth) { return standin().entra_credential("redis", auth); }

  std::unique_ptr<CredentialSource> source(const json& j, std::map<std::string, std::string> vars = {},
                                           const Clock* clock = nullptr, RandomSource* random = nullptr) {
    auto config = parse_entra_config(j, "credentials[0]", [vars](std::string_view n) -> std::optional<std::string> {
      auto it = vars.find(std::string(n));
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
    if (!config) throw std::runtime_error(config.error().message);
    if (auto files = check_files(*config, "credentials[0]"); !files) throw std::runtime_error(files.error().message);
    return make_entra_source(*config, {.http = *http_, .clock = clock ? *clock : clock_,
                                       .random = random ? *random : random_, .timeout = timeout_});
  }
  std::unique_ptr<CredentialSource> secret_source() {
    return source(entra_json({{"method", "client_secret"}, {"secret_file", standin().file("client_secret")}}));
  }

  FetchedCredential ok(const FetchResult<FetchedCredential>& r) {
    if (auto* e = std::get_if<FetchError>(&r)) ADD_FAILURE() << e->message;
    return std::get<FetchedCredential>(r);
  }
  FetchError failed(const FetchResult<FetchedCredential>& r) {
    if (!std::holds_alternative<FetchError>(r)) {
      ADD_FAILURE() << "fetch succeeded";
      return {};
    }
    return std::get<FetchError>(r);
  }
  void expect_token(const FetchedCredential& c, const std::string& oid) {
    EXPECT_EQ(c.username, oid);
    EXPECT_NEAR(static_cast<double>(c.expires_at), static_cast<double>(clock_.unix_seconds() + 3600), 5);
    auto claims = parse_jwt_payload(c.token.reveal());
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->claims["aud"], "https://redis.azure.com");
    EXPECT_EQ(claims->claims["tid"], standin().tenant());
  }

  test::TempDir dir_;
  SystemClock clock_;
  OsRandomSource random_;
  std::chrono::milliseconds timeout_{5000};
  std::unique_ptr<StandIn> standin_;
  std::unique_ptr<CurlHttpClient> http_;
};

// ---- each auth method gets a token with username = oid

TEST_F(EntraIntegration, ClientSecret) {
  auto s = secret_source();
  expect_token(ok(s->fetch()), standin().oid());
  EXPECT_EQ(standin().token_requests().at(0)["auth"], "client_secret#1");
}

TEST_F(EntraIntegration, ClientCertificatePs256) {
  auto s = source(entra_json({{"method", "client_certificate"}, {"certificate_file", standin().file("client_certificate")}}));
  expect_token(ok(s->fetch()), standin().oid());
  EXPECT_EQ(standin().token_requests().at(0)["auth"], "client_assertion:PS256");
}

TEST_F(EntraIntegration, ClientCertificateRs256WithX5c) {
  auto s = source(entra_json({{"method", "client_certificate"},
                              {"certificate_file", standin().file("client_certificate")},
                              {"algorithm", "RS256"},
                              {"send_x5c", true}}));
  expect_token(ok(s->fetch()), standin().oid());
  expect_token(ok(s->fetch()), standin().oid());  // a fresh jti each time
  EXPECT_EQ(standin().token_requests().at(1)["auth"], "client_assertion:RS256");
}

TEST_F(EntraIntegration, WorkloadIdentityFromTheEnvironmentAndRotation) {
  test::ProjectedFile token(dir_.path(), "azure-identity-token");
  token.write(standin().federated_token({{"wrong_key", true}}));
  auto s = source({{"name", "redis"}, {"source", "entra"}, {"ca_file", standin().ca_file()}},
                  {{"AZURE_TENANT_ID", standin().tenant()},
                   {"AZURE_CLIENT_ID", standin().client_id()},
                   {"AZURE_FEDERATED_TOKEN_FILE", token.path().string()},
                   {"AZURE_AUTHORITY_HOST", standin().base_url()}});
  const FetchError bad = failed(s->fetch());
  EXPECT_EQ(bad.http_status, 401);
  EXPECT_NE(bad.message.find("AADSTS700027: Client assertion failed signature validation"), std::string::npos)
      << bad.message;
  token.write(standin().federated_token());  // the kubelet's symlink swap
  expect_token(ok(s->fetch()), standin().oid());
}

TEST_F(EntraIntegration, ManagedIdentityImds) {
  const std::string endpoint = standin().http_base_url() + "metadata/identity/oauth2/token";
  const auto& identities = standin().info()["config"]["managed_identities"];
  auto system = source({{"auth", {{"method", "managed_identity"}, {"endpoint", endpoint}}}});
  expect_token(ok(system->fetch()), identities[0]["object_id"]);
  auto user = source({{"auth", {{"method", "managed_identity"}, {"endpoint", endpoint},
                                {"client_id", identities[1]["client_id"]}}}});
  expect_token(ok(user->fetch()), identities[1]["object_id"]);
  auto unknown = source({{"auth", {{"method", "managed_identity"}, {"endpoint", endpoint}, {"object_id", "nobody"}}}});
  const FetchError e = failed(unknown->fetch());
  EXPECT_EQ(e.http_status, 400);
  EXPECT_NE(e.message.find("HTTP 400 invalid_request: Identity not found"), std::string::npos) << e.message;
}

TEST_F(EntraIntegration, ManagedIdentityAppService) {
  const std::string header = standin().info()["config"]["app_service"]["identity_header"];
  const auto& identities = standin().info()["config"]["managed_identities"];
  const std::string endpoint = standin().http_base_url() + "msi/token";
  auto s = source({{"auth", {{"method", "managed_identity"}, {"object_id", identities[1]["object_id"]}}}},
                  {{"IDENTITY_ENDPOINT", endpoint}, {"IDENTITY_HEADER", header}});
  expect_token(ok(s->fetch()), identities[1]["object_id"]);
  auto wrong = source({{"auth", {{"method", "managed_identity"}}}},
                      {{"IDENTITY_ENDPOINT", endpoint}, {"IDENTITY_HEADER", "not-the-header"}});
  const FetchError e = failed(wrong->fetch());
  EXPECT_EQ(e.http_status, 401);
  EXPECT_NE(e.message.find("X-IDENTITY-HEADER header value is not valid"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("not-the-header"), std::string::npos);
}

// ---- the stand-in's rejections surface with the AADSTS text, never a secret

TEST_F(EntraIntegration, WrongSecretIsInvalidClient) {
  test::write_file(dir_ / "wrong", "wrong-secret-value\n");
  auto s = source(entra_json({{"method", "client_secret"}, {"secret_file", (dir_ / "wrong").string()}}));
  const FetchError e = failed(s->fetch());
  EXPECT_EQ(e.http_status, 401);
  EXPECT_NE(e.message.find("HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided."),
            std::string::npos)
      << e.message;
  EXPECT_EQ(e.message.find("wrong-secret-value"), std::string::npos);
}

TEST_F(EntraIntegration, UnknownClientTenantAndResource) {
  auto j = entra_json({{"method", "client_secret"}, {"secret_file", standin().file("client_secret")}});
  j["client_id"] = "11111111-0000-0000-0000-000000000000";
  EXPECT_NE(failed(source(j)->fetch()).message.find("unauthorized_client: AADSTS700016: Application with identifier"),
            std::string::npos);
  j = entra_json({{"method", "client_secret"}, {"secret_file", standin().file("client_secret")}});
  j["tenant_id"] = "contoso.example";
  EXPECT_NE(failed(source(j)->fetch()).message.find("AADSTS90002: Tenant 'contoso.example' not found"),
            std::string::npos);
  j = entra_json({{"method", "client_secret"}, {"secret_file", standin().file("client_secret")}});
  j["scope"] = "https://vault.azure.net/.default";
  EXPECT_NE(failed(source(j)->fetch()).message.find("invalid_resource: AADSTS500011"), std::string::npos);
}

TEST_F(EntraIntegration, CertificateNotRegisteredIsAx5tMismatch) {
  const auto other = test::make_test_certificate();
  test::write_file(dir_ / "other.pem", other.cert_pem + other.key_pem);
  auto s = source(entra_json({{"method", "client_certificate"}, {"certificate_file", (dir_ / "other.pem").string()}}));
  const FetchError e = failed(s->fetch());
  EXPECT_NE(e.message.find("AADSTS700027: Client assertion failed signature validation. [Reason - The key was not found."),
            std::string::npos)
      << e.message;
}

TEST_F(EntraIntegration, ExpiredAssertionAndExpiredFederatedToken) {
  // This host's clock an hour behind: the assertion is already expired for Entra.
  SimulatedClock behind(clock_.now() - 1h);
  auto cert = source(entra_json({{"method", "client_certificate"}, {"certificate_file", standin().file("client_certificate")}}),
                     {}, &behind);
  EXPECT_NE(failed(cert->fetch()).message.find("AADSTS700024: Client assertion is not within its valid time range"),
            std::string::npos);

  // A federated token that expired (which the source would not send if its
  // clock saw that; three hours behind, it does, and Entra refuses it).
  SimulatedClock far_behind(clock_.now() - 3h);
  test::write_file(dir_ / "fed", standin().federated_token({{"expired", true}}));
  auto wi = source(entra_json({{"method", "workload_identity"}, {"token_file", (dir_ / "fed").string()}}), {},
                   &far_behind);
  EXPECT_NE(failed(wi->fetch()).message.find("AADSTS700024"), std::string::npos);
  auto wi_now = source(entra_json({{"method", "workload_identity"}, {"token_file", (dir_ / "fed").string()}}));
  EXPECT_NE(failed(wi_now->fetch()).message.find("the federated token expired at"), std::string::npos);
  EXPECT_EQ(standin().token_requests().size(), 2u);  // the last one never left
}

TEST_F(EntraIntegration, FederatedSubjectMismatch) {
  test::write_file(dir_ / "fed", standin().federated_token({{"subject", "system:serviceaccount:other:app"}}));
  auto s = source(entra_json({{"method", "workload_identity"}, {"token_file", (dir_ / "fed").string()}}));
  EXPECT_NE(failed(s->fetch()).message.find("AADSTS700213: No matching federated identity record found for presented "
                                            "assertion subject 'system:serviceaccount:other:app'"),
            std::string::npos);
}

TEST_F(EntraIntegration, ReusedJtiIsAReplay) {
  struct Constant final : RandomSource {
    void fill(std::span<unsigned char> out) override { std::fill(out.begin(), out.end(), 7); }
  } constant;
  auto s = source(entra_json({{"method", "client_certificate"}, {"certificate_file", standin().file("client_certificate")}}),
                  {}, nullptr, &constant);
  ok(s->fetch());
  EXPECT_NE(failed(s->fetch()).message.find("has already been used (replay)"), std::string::npos);
}

// ---- rotation

TEST_F(EntraIntegration, RotatedSecretFileIsUsedOnTheNextFetch) {
  test::ProjectedFile secret(dir_.path(), "client-secret");
  const std::string first = test::read_file(standin().file("client_secret"));
  secret.write(first);
  auto s = source(entra_json({{"method", "client_secret"}, {"secret_file", secret.path().string()}}));
  ok(s->fetch());
  // The operator adds a new secret, revokes the old one, then updates the Secret.
  standin().admin(HttpMethod::post, "/settings", {{"add_secret", "second-secret~value"}, {"revoke_secret", first.substr(0, first.size() - 1)}});
  const FetchError revoked = failed(s->fetch());
  EXPECT_NE(revoked.message.find("AADSTS7000222"), std::string::npos) << revoked.message;
  secret.write("second-secret~value\n");
  ok(s->fetch());
  const auto requests = standin().token_requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0]["auth"], "client_secret#1");
  EXPECT_EQ(requests[2]["auth"], "client_secret#2");
}

// ---- what the IdP can do to the HTTP client

TEST_F(EntraIntegration, ThrottlingSetsRetryAfter) {
  auto s = secret_source();
  standin().fault({{"target", "token"}, {"mode", "status"}, {"status", 429}, {"retry_after", "7"}, {"count", 1}});
  const FetchError e = failed(s->fetch());
  EXPECT_EQ(e.http_status, 429);
  EXPECT_EQ(e.retry_after, 7s);
  EXPECT_NE(e.message.find("HTTP 429 temporarily_unavailable: AADSTS50196"), std::string::npos) << e.message;
  standin().fault({{"target", "token"}, {"mode", "status"}, {"status", 503}, {"retry_after", "120"}, {"count", 1}});
  EXPECT_EQ(failed(s->fetch()).retry_after, 120s);
  ok(s->fetch());
}

TEST_F(EntraIntegration, ServerErrorHasNoRetryAfter) {
  auto s = secret_source();
  standin().fault({{"target", "token"}, {"mode", "status"}, {"status", 500}, {"count", 1}});
  const FetchError e = failed(s->fetch());
  EXPECT_EQ(e.http_status, 500);
  EXPECT_FALSE(e.retry_after);
}

TEST_F(EntraIntegration, OversizeBodyIsAnError) {
  http_ = std::make_unique<CurlHttpClient>(
      HttpClientOptions{.ca_file = standin().ca_file(), .max_response_bytes = 64 * 1024});
  auto s = secret_source();
  standin().fault({{"target", "token"}, {"mode", "oversize"}, {"size", 1 << 20}, {"count", 1}});
  const FetchError e = failed(s->fetch());
  EXPECT_EQ(e.http_status, 0);
  EXPECT_NE(e.message.find("response body larger than 65536 bytes"), std::string::npos) << e.message;
  ok(s->fetch());
}

TEST_F(EntraIntegration, HangingResponseTimesOutOnTime) {
  timeout_ = 1500ms;
  auto s = secret_source();
  standin().fault({{"target", "token"}, {"mode", "hang"}, {"delay", 60}, {"count", 1}});
  const auto start = std::chrono::steady_clock::now();
  const FetchError e = failed(s->fetch());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_NE(e.message.find("timed out after 1500 ms"), std::string::npos) << e.message;
  EXPECT_GE(elapsed, 1400ms);
  EXPECT_LT(elapsed, 30s) << "the 60 s hang was cut by the timeout, not waited out";
  ok(s->fetch());  // a new connection; the hung one is abandoned
}

TEST_F(EntraIntegration, SlowButInTimeSucceeds) {
  auto s = secret_source();
  standin().fault({{"target", "token"}, {"mode", "slow"}, {"delay", 0.5}, {"count", 1}});
  ok(s->fetch());
}

TEST_F(EntraIntegration, MalformedResetAndDown) {
  auto s = secret_source();
  standin().fault({{"target", "token"}, {"mode", "malformed"}, {"count", 1}});
  EXPECT_NE(failed(s->fetch()).message.find("bad token response: response is not JSON"), std::string::npos);
  // libcurl retries once on a fresh connection when a reused one dies
  // before any response: reset both.
  standin().fault({{"target", "token"}, {"mode", "reset"}, {"count", 2}});
  const FetchError reset = failed(s->fetch());
  EXPECT_EQ(reset.http_status, 0);
  EXPECT_NE(reset.message.find("POST " + standin().base_url()), std::string::npos) << reset.message;
  standin().fault({{"mode", "down"}});
  const FetchError down = failed(s->fetch());
  EXPECT_NE(down.message.find("Failed to connect to 127.0.0.1"), std::string::npos) << down.message;
  standin().fault({{"mode", "up"}});
  ok(s->fetch());
}

TEST_F(EntraIntegration, InconsistentExpIsRefused) {
  auto s = secret_source();
  standin().admin(HttpMethod::post, "/settings", {{"exp_skew", 3600}});
  const FetchError e = failed(s->fetch());
  EXPECT_EQ(e.http_status, 200);
  EXPECT_NE(e.message.find("token refused: access_token: exp"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("disagrees with expires_in"), std::string::npos);
}

// ---- TLS and connections

TEST_F(EntraIntegration, TlsIsVerifiedAgainstTheSystemBundleUnlessTold) {
  http_ = std::make_unique<CurlHttpClient>();  // no ca_file: the test CA is unknown
  auto s = secret_source();
  const FetchError e = failed(s->fetch());
  EXPECT_EQ(e.http_status, 0);
  EXPECT_NE(e.message.find("certificate"), std::string::npos) << e.message;

  // SSL_CERT_FILE replaces the system bundle, as it does for OpenSSL itself.
  setenv("SSL_CERT_FILE", standin().ca_file().c_str(), 1);
  auto with_env = secret_source();
  auto r = with_env->fetch();
  ok(r);

  // ca_file adds to that bundle rather than replacing it: an unrelated
  // ca_file still leaves the stand-in trusted through SSL_CERT_FILE.
  const auto unrelated = test::make_test_certificate();
  test::write_file(dir_ / "unrelated-ca.pem", unrelated.cert_pem);
  http_ = std::make_unique<CurlHttpClient>(HttpClientOptions{.ca_file = dir_ / "unrelated-ca.pem"});
  auto extra = secret_source();
  auto r2 = extra->fetch();
  unsetenv("SSL_CERT_FILE");
  ok(r2);
}

TEST_F(EntraIntegration, ConnectionsAreReused) {
  auto s = secret_source();
  ok(s->fetch());
  ok(s->fetch());
  ok(s->fetch());
  const auto requests = standin().token_requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0]["peer_port"], requests[1]["peer_port"]);
  EXPECT_EQ(requests[1]["peer_port"], requests[2]["peer_port"]);
}

}  // namespace
}  // namespace tw
