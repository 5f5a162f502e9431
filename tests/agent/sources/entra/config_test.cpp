// config_test.cpp -- the entra / oauth2 config parsers: defaults from the
// Azure variables, every auth method, and errors that name the JSON path.
#include <gtest/gtest.h>

#include <map>

#include "entra_test_support.hpp"
#include "tokenwell/agent/config/entra_config.hpp"
#include "tokenwell/agent/sources/entra/entra_source.hpp"

namespace tw {
namespace {

using nlohmann::json;

Environment env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const std::map<std::string, std::string> kAks = {
    {"AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"},
    {"AZURE_CLIENT_ID", "0f4e5b8c-1a2b-4c3d-9e8f-112233445566"},
    {"AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"},
    {"AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"},
};

std::string error_of(const json& j, const std::map<std::string, std::string>& vars = kAks) {
  auto r = parse_entra_config(j, "credentials[0]", env(vars));
  return r ? "(parsed)" : r.error().message;
}

TEST(EntraConfig, OnAksNameAndSourceAreEnough) {
  auto c = parse_entra_config(json{{"name", "redis"}, {"source", "entra"}}, "credentials[0]", env(kAks));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tenant_id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
  EXPECT_EQ(c->client_id, "0f4e5b8c-1a2b-4c3d-9e8f-112233445566");
  EXPECT_EQ(c->scope, "https://redis.azure.com/.default");
  EXPECT_EQ(c->authority_host, "https://login.microsoftonline.com/");
  EXPECT_EQ(std::get<WorkloadIdentityAuth>(c->auth).token_file, "/var/run/secrets/azure/tokens/azure-identity-token");
  EXPECT_EQ(c->username.claim, "oid");
  EXPECT_EQ(c->token_url(),
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token");
  EXPECT_EQ(c->resource(), "https://redis.azure.com");
}

TEST(EntraConfig, ExplicitValuesWinOverTheEnvironment) {
  auto c = parse_entra_config(json{{"source", "entra"},
                                   {"tenant_id", "contoso.onmicrosoft.com"},
                                   {"client_id", "app"},
                                   {"scope", "api://my-app/.default"},
                                   {"authority_host", "https://login.microsoftonline.us"},
                                   {"auth", {{"method", "client_secret"}, {"secret_file", "/s/secret"}}},
                                   {"username", {{"value", "default"}}},
                                   {"ca_file", "/etc/ca.pem"},
                                   {"refresh", {{"ratio", 0.5}}}},
                              "credentials[0]", env(kAks));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->token_url(), "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token");
  EXPECT_EQ(std::get<ClientSecretAuth>(c->auth).secret_file, "/s/secret");
  EXPECT_EQ(c->username.value, "default");
  EXPECT_EQ(c->ca_file, "/etc/ca.pem");
}

TEST(EntraConfig, ClientCertificateOptions) {
  auto c = parse_entra_config(
      json{{"auth", {{"method", "client_certificate"}, {"certificate_file", "/c.pem"}, {"send_x5c", true},
                     {"algorithm", "RS256"}}}},
      "credentials[2]", env(kAks));
  ASSERT_TRUE(c) << c.error().message;
  const auto& a = std::get<ClientCertificateAuth>(c->auth);
  EXPECT_EQ(a.certificate_file, "/c.pem");
  EXPECT_TRUE(a.send_x5c);
  EXPECT_EQ(a.algorithm, AssertionAlgorithm::rs256);
  auto d = parse_entra_config(json{{"auth", {{"method", "client_certificate"}, {"certificate_file", "/c.pem"}}}},
                              "c", env(kAks));
  ASSERT_TRUE(d);
  EXPECT_EQ(std::get<ClientCertificateAuth>(d->auth).algorithm, AssertionAlgorithm::ps256);
  EXPECT_FALSE(std::get<ClientCertificateAuth>(d->auth).send_x5c);
}

TEST(EntraConfig, ManagedIdentityNeedsNoTenantOrClient) {
  auto c = parse_entra_config(json{{"auth", {{"method", "managed_identity"}, {"client_id", "mi-client"}}}},
                              "credentials[0]", env({}));
  ASSERT_TRUE(c) << c.error().message;
  const auto& mi = std::get<ManagedIdentityAuth>(c->auth);
  EXPECT_EQ(mi.kind, ManagedIdentityAuth::Endpoint::imds);
  EXPECT_EQ(mi.endpoint, "http://169.254.169.254/metadata/identity/oauth2/token");
  EXPECT_EQ(mi.client_id, "mi-client");
}

TEST(EntraConfig, ManagedIdentityOnAppService) {
  auto c = parse_entra_config(json{{"auth", {{"method", "managed_identity"}}}}, "credentials[0]",
                              env({{"IDENTITY_ENDPOINT", "http://localhost:4141/msi/token"},
                                   {"IDENTITY_HEADER", "header-secret"}}));
  ASSERT_TRUE(c) << c.error().message;
  const auto& mi = std::get<ManagedIdentityAuth>(c->auth);
  EXPECT_EQ(mi.kind, ManagedIdentityAuth::Endpoint::app_service);
  EXPECT_EQ(mi.endpoint, "http://localhost:4141/msi/token");
  EXPECT_EQ(mi.identity_header.reveal(), "header-secret");
}

TEST(EntraConfig, ErrorsNameTheJsonPath) {
  const std::vector<std::pair<json, std::string>> cases = {
      {json::array(), "credentials[0]: expected an object"},
      {{{"auth", {{"method", "foo"}}}},
       "credentials[0].auth.method: unknown method 'foo' (expected workload_identity, client_secret, "
       "client_certificate, managed_identity)"},
      {{{"tenant", "x"}}, "credentials[0].tenant: unknown key (expected one of: name, source, refresh, username, "
                     "tenant_id, client_id, scope, authority_host, auth, ca_file)"},
      {{{"auth", {{"method", "client_secret"}, {"secret_fil", "/x"}}}},
       "credentials[0].auth.secret_fil: unknown key (expected one of: method, secret_file)"},
      {{{"auth", {{"method", "client_secret"}}}}, "credentials[0].auth.secret_file: required"},
      {{{"auth", "client_secret"}}, "credentials[0].auth: expected an object"},
      {{{"auth", {{"method", 3}}}}, "credentials[0].auth.method: expected a string, got number"},
      {{{"scope", "https://redis.azure.com"}}, "credentials[0].scope: must end with /.default"},
      {{{"scope", "a/.default b/.default"}}, "credentials[0].scope: must be a single scope without spaces"},
      {{{"scope", ""}}, "credentials[0].scope: must not be empty"},
      {{{"tenant_id", "../../evil"}}, "credentials[0].tenant_id: expected a tenant GUID or domain name"},
      {{{"authority_host", "http://login.microsoftonline.com/"}}, "credentials[0].authority_host: must be an https:// URL"},
      {{{"authority_host", "https://x/?q=1"}}, "credentials[0].authority_host: must be a URL without spaces"},
      {{{"username", {{"claim", "oid"}, {"value", "x"}}}}, "credentials[0].username: set either claim or value"},
      {{{"username", {{"name", "x"}}}}, "credentials[0].username.name: unknown key"},
      {{{"username", "oid"}}, "credentials[0].username: expected {\"claim\": \"NAME\"}"},
      {{{"auth", {{"method", "client_certificate"}, {"certificate_file", "/c"}, {"algorithm", "ES256"}}}},
       "credentials[0].auth.algorithm: unknown algorithm 'ES256' (expected PS256 or RS256)"},
      {{{"auth", {{"method", "client_certificate"}, {"certificate_file", "/c"}, {"send_x5c", "yes"}}}},
       "credentials[0].auth.send_x5c: expected true or false, got string"},
      {{{"auth", {{"method", "managed_identity"}, {"client_id", "a"}, {"object_id", "b"}}}},
       "credentials[0].auth.client_id: set at most one of client_id, object_id, resource_id"},
      {{{"auth", {{"method", "managed_identity"}, {"endpoint", "ftp://x"}}}},
       "credentials[0].auth.endpoint: must be an http:// or https:// URL"},
  };
  for (const auto& [j, expected] : cases) {
    const std::string got = error_of(j);
    EXPECT_EQ(got.substr(0, expected.size()), expected) << j.dump();
  }
}

TEST(EntraConfig, MissingAzureVariablesAreNamed) {
  EXPECT_EQ(error_of(json::object(), {}),
            "credentials[0].auth.token_file: required (set it or AZURE_FEDERATED_TOKEN_FILE)");
  EXPECT_EQ(error_of({{"auth", {{"method", "client_secret"}, {"secret_file", "/s"}}}}, {}),
            "credentials[0].tenant_id: required (set it or AZURE_TENANT_ID)");
  EXPECT_EQ(error_of({{"tenant_id", "t"}, {"auth", {{"method", "client_secret"}, {"secret_file", "/s"}}}}, {}),
            "credentials[0].client_id: required (set it or AZURE_CLIENT_ID)");
}

TEST(OAuth2Config, ParsesAGenericClientCredentialsSource) {
  auto c = parse_oauth2_config(json{{"name", "keycloak"},
                                    {"source", "oauth2"},
                                    {"token_url", "https://idp.example/realms/x/protocol/openid-connect/token"},
                                    {"client_id", "svc"},
                                    {"scope", "redis"},
                                    {"auth", {{"method", "client_certificate"}, {"certificate_file", "/c.pem"},
                                              {"key_id", "k1"}}}},
                               "credentials[1]");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->username.claim, "sub");
  const auto& a = std::get<ClientCertificateAuth>(c->auth);
  EXPECT_EQ(a.algorithm, AssertionAlgorithm::rs256);
  EXPECT_EQ(a.key_id, "k1");
}

TEST(OAuth2Config, Errors) {
  auto err = [](const json& j) {
    auto r = parse_oauth2_config(j, "credentials[1]");
    return r ? std::string("(parsed)") : r.error().message;
  };
  const json base = {{"token_url", "https://idp/token"}, {"client_id", "c"},
                     {"auth", {{"method", "client_secret"}, {"secret_file", "/s"}}}};
  EXPECT_EQ(err(base), "(parsed)");
  json j = base;
  j.erase("token_url");
  EXPECT_EQ(err(j), "credentials[1].token_url: required");
  j = base;
  j["token_url"] = "http://idp/token";
  EXPECT_EQ(err(j), "credentials[1].token_url: must be an https:// URL");
  j = base;
  j["auth"] = {{"method", "managed_identity"}};
  EXPECT_EQ(err(j), "credentials[1].auth.method: unknown method 'managed_identity' (expected workload_identity, "
                    "client_secret, client_certificate)");
  j = base;
  j.erase("auth");
  EXPECT_EQ(err(j).substr(0, 30), "credentials[1].auth: required,");
  j = base;
  j["tenant_id"] = "t";
  EXPECT_EQ(err(j).substr(0, 37), "credentials[1].tenant_id: unknown key");
  j = base;
  j["auth"] = {{"method", "workload_identity"}};
  EXPECT_EQ(err(j), "credentials[1].auth.token_file: required");
}

TEST(CheckFiles, NamesUnreadableAndUnusableFiles) {
  test::TempDir dir;
  auto c = parse_entra_config(json{{"auth", {{"method", "client_secret"}, {"secret_file", (dir / "s").string()}}}},
                              "credentials[3]", env(kAks));
  ASSERT_TRUE(c);
  auto r = check_files(*c, "credentials[3]");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "credentials[3].auth.secret_file: file not readable (" + (dir / "s").string() +
                                   ": No such file or directory)");
  test::write_file(dir / "s", "secret\n");
  EXPECT_TRUE(check_files(*c, "credentials[3]"));

  test::write_file(dir / "c.pem", "not a certificate");
  auto cc = parse_entra_config(
      json{{"auth", {{"method", "client_certificate"}, {"certificate_file", (dir / "c.pem").string()}}}}, "x",
      env(kAks));
  ASSERT_TRUE(cc);
  auto bad = check_files(*cc, "credentials[4]");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("credentials[4].auth.certificate_file: "), std::string::npos);
  EXPECT_NE(bad.error().message.find("no certificate found"), std::string::npos);
}

}  // namespace
}  // namespace tw
