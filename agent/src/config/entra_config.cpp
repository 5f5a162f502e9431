// entra_config.cpp -- parsing and checking the entra / oauth2 source config.
#include "tokenwell/agent/config/entra_config.hpp"

#include "tokenwell/agent/common/json_object.hpp"
#include "tokenwell/agent/config/config_schema.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>

namespace tw {
namespace {

using nlohmann::json;

constexpr std::string_view kDefaultSuffix = "/.default";

using Object = JsonObject;

std::optional<std::string> env_value(const Environment& env, std::string_view name) {
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

// Tenant and client ids go into URL paths: GUIDs or domain names only.
bool is_identifier(std::string_view s) {
  return !s.empty() && s.size() <= 256 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_';
  });
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

Result<void> check_https_url(const Object& o, std::string_view key, std::string_view url, bool allow_http) {
  const bool https = url.starts_with("https://") && url.size() > 8;
  const bool http = allow_http && url.starts_with("http://") && url.size() > 7;
  if (!https && !http) return o.error(key, allow_http ? "must be an http:// or https:// URL" : "must be an https:// URL");
  if (has_space_or_control(url) || url.find_first_of("?#") != std::string_view::npos)
    return o.error(key, "must be a URL without spaces, query or fragment");
  return {};
}

Result<UsernameSpec> parse_username(const Object& parent, UsernameSpec fallback) {
  const json* u = parent.find("username");
  if (!u) return fallback;
  if (!u->is_object())
    return parent.error("username", R"(expected {"claim": "NAME"} or {"value": "LITERAL"})");
  Object o(*u, parent.at("username"));
  if (auto r = o.only(config_schema::username().keys()); !r) return r.error();
  TW_TRY(claim, o.string("claim"));
  TW_TRY(value, o.string("value"));
  if (claim && value) return parent.error("username", "set either claim or value, not both");
  if (!claim && !value) return parent.error("username", R"(expected {"claim": "NAME"} or {"value": "LITERAL"})");
  UsernameSpec out;
  if (claim) out.claim = *claim;
  if (value) {
    out.claim.clear();
    out.value = *value;
  }
  return out;
}

Result<std::filesystem::path> required_path(const Object& o, std::string_view key,
                                            std::optional<std::string> fallback, std::string_view env_name) {
  TW_TRY(value, o.string(key));
  if (!value) value = std::move(fallback);
  if (!value) {
    std::string hint = env_name.empty() ? "required" : "required (set it or " + std::string(env_name) + ")";
    return o.error(key, hint);
  }
  std::filesystem::path path(*value);
  if (!path.is_absolute()) return o.error(key, "must be an absolute path");
  return path;
}

Result<AssertionAlgorithm> parse_algorithm(const Object& o, AssertionAlgorithm fallback) {
  TW_TRY(alg, o.string("algorithm"));
  if (!alg) return fallback;
  if (*alg == "PS256") return AssertionAlgorithm::ps256;
  if (*alg == "RS256") return AssertionAlgorithm::rs256;
  return o.error("algorithm", "unknown algorithm '" + *alg + "' (expected PS256 or RS256)");
}

struct AuthDefaults {
  std::optional<std::string> token_file;  // AZURE_FEDERATED_TOKEN_FILE
  const char* token_file_env = "";
  AssertionAlgorithm algorithm = AssertionAlgorithm::ps256;
  const config_schema::ObjectSchema* schema = &config_schema::entra_auth();  // the methods and their keys
};

Result<EntraAuth> parse_auth(const Object& parent, const AuthDefaults& defaults, const Environment& env) {
  const json* a = parent.find("auth");
  static const json kEmpty = json::object();
  if (a && !a->is_object()) return parent.error("auth", R"(expected an object like {"method": "client_secret", ...})");
  Object o(a ? *a : kEmpty, parent.at("auth"));
  TW_TRY(method, o.string("method"));
  const config_schema::ObjectSchema& schema = *defaults.schema;
  const std::string m = method.value_or(std::string(schema.default_variant));
  if (!schema.variant(m)) return o.error("method", "unknown method '" + m + "' (expected " + schema.variant_list() + ")");
  if (auto r = o.only(schema.keys(m)); !r) return r.error();

  if (m == "workload_identity") {
    TW_TRY(file, required_path(o, "token_file", defaults.token_file, defaults.token_file_env));
    return EntraAuth{WorkloadIdentityAuth{std::move(file)}};
  }
  if (m == "client_secret") {
    TW_TRY(file, required_path(o, "secret_file", std::nullopt, ""));
    return EntraAuth{ClientSecretAuth{std::move(file)}};
  }
  if (m == "client_certificate") {
    ClientCertificateAuth out;
    TW_TRY(file, required_path(o, "certificate_file", std::nullopt, ""));
    TW_TRY(x5c, o.boolean("send_x5c"));
    TW_TRY(alg, parse_algorithm(o, defaults.algorithm));
    TW_TRY(kid, o.string("key_id"));
    out.certificate_file = std::move(file);
    out.send_x5c = x5c.value_or(false);
    out.algorithm = alg;
    out.key_id = kid.value_or("");
    return EntraAuth{std::move(out)};
  }
  if (m == "managed_identity") {
    ManagedIdentityAuth out;
    TW_TRY(endpoint, o.string("endpoint"));
    TW_TRY(client_id, o.string("client_id"));
    TW_TRY(object_id, o.string("object_id"));
    TW_TRY(resource_id, o.string("resource_id"));
    if (int(bool(client_id)) + int(bool(object_id)) + int(bool(resource_id)) > 1)
      return o.error("client_id", "set at most one of client_id, object_id, resource_id");
    const auto identity_endpoint = env_value(env, "IDENTITY_ENDPOINT");
    const auto identity_header = env_value(env, "IDENTITY_HEADER");
    if (identity_endpoint && identity_header) {
      out.kind = ManagedIdentityAuth::Endpoint::app_service;
      out.endpoint = endpoint.value_or(*identity_endpoint);
      out.identity_header = Secret(*identity_header);
    } else {
      out.endpoint = endpoint.value_or(std::string(kImdsEndpoint));
    }
    if (auto r = check_https_url(o, "endpoint", out.endpoint, /*allow_http=*/true); !r) return r.error();
    out.client_id = client_id.value_or("");
    out.object_id = object_id.value_or("");
    out.resource_id = resource_id.value_or("");
    return EntraAuth{std::move(out)};
  }
  return o.error("method", "unknown method '" + m + "' (expected " + schema.variant_list() + ")");
}

}  // namespace

std::string EntraConfig::token_url() const { return authority_host + tenant_id + "/oauth2/v2.0/token"; }

std::string EntraConfig::resource() const {
  if (scope.ends_with(kDefaultSuffix)) return scope.substr(0, scope.size() - kDefaultSuffix.size());
  return scope;
}

Result<EntraConfig> parse_entra_config(const json& j, const std::string& path) {
  return parse_entra_config(j, path, process_environment());
}

Result<EntraConfig> parse_entra_config(const json& j, const std::string& path, const Environment& env) {
  if (!j.is_object()) return make_error(path + ": expected an object");
  Object o(j, path);
  if (auto r = o.only(config_schema::credential().keys("entra")); !r) return r.error();

  EntraConfig out;
  AuthDefaults defaults;
  defaults.token_file = env_value(env, "AZURE_FEDERATED_TOKEN_FILE");
  defaults.token_file_env = "AZURE_FEDERATED_TOKEN_FILE";
  TW_TRY(auth, parse_auth(o, defaults, env));
  out.auth = std::move(auth);
  const bool managed = std::holds_alternative<ManagedIdentityAuth>(out.auth);

  TW_TRY(tenant, o.string("tenant_id"));
  TW_TRY(client, o.string("client_id"));
  if (!tenant) tenant = env_value(env, "AZURE_TENANT_ID");
  if (!client) client = env_value(env, "AZURE_CLIENT_ID");
  if (!managed) {
    if (!tenant) return o.error("tenant_id", "required (set it or AZURE_TENANT_ID)");
    if (!client) return o.error("client_id", "required (set it or AZURE_CLIENT_ID)");
  }
  if (tenant && !is_identifier(*tenant))
    return o.error("tenant_id", "expected a tenant GUID or domain name (letters, digits, '-', '.', '_')");
  if (client && !is_identifier(*client)) return o.error("client_id", "expected an application (client) id");
  out.tenant_id = tenant.value_or("");
  out.client_id = client.value_or("");

  TW_TRY(scope, o.string("scope"));
  if (scope) out.scope = *scope;
  if (has_space_or_control(out.scope)) return o.error("scope", "must be a single scope without spaces");
  if (!out.scope.ends_with(kDefaultSuffix) || out.scope.size() == kDefaultSuffix.size())
    return o.error("scope", "must end with /.default (the client-credentials flow asks for a resource's "
                            "application permissions, e.g. https://redis.azure.com/.default)");

  TW_TRY(authority, o.string("authority_host"));
  if (!authority) authority = env_value(env, "AZURE_AUTHORITY_HOST");
  if (authority) out.authority_host = *authority;
  if (auto r = check_https_url(o, "authority_host", out.authority_host, /*allow_http=*/false); !r) return r.error();
  if (!out.authority_host.ends_with('/')) out.authority_host += '/';

  TW_TRY(username, parse_username(o, UsernameSpec{}));
  out.username = std::move(username);
  TW_TRY(ca, o.string("ca_file"));
  if (ca) out.ca_file = *ca;
  if (ca && !out.ca_file.is_absolute()) return o.error("ca_file", "must be an absolute path");
  return out;
}

Result<OAuth2Config> parse_oauth2_config(const json& j, const std::string& path) {
  if (!j.is_object()) return make_error(path + ": expected an object");
  Object o(j, path);
  if (auto r = o.only(config_schema::credential().keys("oauth2")); !r) return r.error();
  OAuth2Config out;
  TW_TRY(token_url, o.string("token_url"));
  if (!token_url) return o.error("token_url", "required");
  if (auto r = check_https_url(o, "token_url", *token_url, /*allow_http=*/false); !r) return r.error();
  out.token_url = *token_url;
  TW_TRY(client, o.string("client_id"));
  if (!client) return o.error("client_id", "required");
  if (has_space_or_control(*client)) return o.error("client_id", "must not contain spaces");
  out.client_id = *client;
  TW_TRY(scope, o.string("scope"));
  if (scope && std::any_of(scope->begin(), scope->end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return o.error("scope", "must not contain control characters");
  out.scope = scope.value_or("");

  if (!o.has("auth")) return o.error("auth", R"(required, e.g. {"method": "client_secret", "secret_file": "..."})");
  AuthDefaults defaults;
  defaults.algorithm = AssertionAlgorithm::rs256;  // what generic IdPs support
  defaults.schema = &config_schema::oauth2_auth();
  TW_TRY(auth, parse_auth(o, defaults, process_environment()));
  std::visit(
      [&](auto& a) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(a)>, ManagedIdentityAuth>) out.auth = std::move(a);
      },
      auth);

  TW_TRY(username, parse_username(o, out.username));
  out.username = std::move(username);
  TW_TRY(ca, o.string("ca_file"));
  if (ca) out.ca_file = *ca;
  if (ca && !out.ca_file.is_absolute()) return o.error("ca_file", "must be an absolute path");
  return out;
}

}  // namespace tw
