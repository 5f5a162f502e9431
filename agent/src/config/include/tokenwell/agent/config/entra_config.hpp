// entra_config.hpp -- the configuration of the `entra` and `oauth2`
// credential sources, and their parsers (DESIGN.md, "Config").
//
//   // credentials[0] = {"name": "redis", "source": "entra",
//   //                   "auth": {"method": "client_secret", "secret_file": "/s"}}
//   auto c = parse_entra_config(doc["credentials"][0], "credentials[0]");
//   if (!c) die(c.error().message);  // "credentials[0].tenant_id: required ..."
//
// The parsers are self-contained: they check every key of the object they are
// given (unknown keys are errors), accept and ignore the keys common to every
// credential (`name`, `source`, `refresh`), parse `username`, and take their
// defaults from the Azure Workload Identity variables (AZURE_TENANT_ID,
// AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST) and, for
// managed identity, IDENTITY_ENDPOINT / IDENTITY_HEADER. They do not touch
// files; sources/entra's check_files() does that for --check-config. Errors name the JSON path.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"
#include "tokenwell/agent/common/environment.hpp"

namespace tw {

// The JWS algorithm of a client assertion (RFC 7518 names RS256 and PS256).
enum class AssertionAlgorithm { rs256, ps256 };

// Where the credential's username comes from: a claim of the access token
// (default "oid") or, when `value` is set, that literal.
struct UsernameSpec {
  std::string claim = "oid";
  std::string value;
};

// auth.method = workload_identity: a federated token (e.g. a projected service
// account token) sent as the client assertion; re-read before every request.
struct WorkloadIdentityAuth {
  std::filesystem::path token_file;
};

// auth.method = client_secret: re-read whenever the file changes.
struct ClientSecretAuth {
  std::filesystem::path secret_file;
};

// auth.method = client_certificate: PEM certificate(s) + private key in one
// file, re-read whenever it changes.
struct ClientCertificateAuth {
  std::filesystem::path certificate_file;
  bool send_x5c = false;
  AssertionAlgorithm algorithm = AssertionAlgorithm::ps256;  // "algorithm": "PS256" | "RS256"
  std::string key_id;  // oauth2 only: `kid` header
};

// auth.method = managed_identity: IMDS, or App Service's identity endpoint
// when IDENTITY_ENDPOINT and IDENTITY_HEADER are set.
struct ManagedIdentityAuth {
  enum class Endpoint { imds, app_service };
  Endpoint kind = Endpoint::imds;
  std::string endpoint;     // full URL without query
  Secret identity_header;   // App Service: X-IDENTITY-HEADER
  // A user-assigned identity, by at most one of these; none = system-assigned.
  std::string client_id;
  std::string object_id;
  std::string resource_id;
};

using EntraAuth = std::variant<WorkloadIdentityAuth, ClientSecretAuth, ClientCertificateAuth, ManagedIdentityAuth>;
using OAuth2Auth = std::variant<WorkloadIdentityAuth, ClientSecretAuth, ClientCertificateAuth>;

inline constexpr std::string_view kDefaultAuthorityHost = "https://login.microsoftonline.com/";
inline constexpr std::string_view kDefaultEntraScope = "https://redis.azure.com/.default";
inline constexpr std::string_view kImdsEndpoint = "http://169.254.169.254/metadata/identity/oauth2/token";

struct EntraConfig {
  std::string tenant_id;
  std::string client_id;
  std::string scope{kDefaultEntraScope};
  std::string authority_host{kDefaultAuthorityHost};  // always ends with '/'
  EntraAuth auth;
  UsernameSpec username;  // default {"claim": "oid"}
  std::filesystem::path ca_file;

  // {authority_host}{tenant_id}/oauth2/v2.0/token
  std::string token_url() const;
  // The v1 resource for managed identity: scope without "/.default".
  std::string resource() const;
};

struct OAuth2Config {
  std::string token_url;
  std::string client_id;
  std::string scope;  // may be empty: then no scope parameter is sent
  OAuth2Auth auth;
  UsernameSpec username{.claim = "sub"};
  std::filesystem::path ca_file;
};

Result<EntraConfig> parse_entra_config(const nlohmann::json& j, const std::string& path);
Result<EntraConfig> parse_entra_config(const nlohmann::json& j, const std::string& path, const Environment& env);
Result<OAuth2Config> parse_oauth2_config(const nlohmann::json& j, const std::string& path);

}  // namespace tw
