// config_schema.cpp -- the tables of config_schema.hpp and their JSON Schema.
// A key added to the config is a row here (the parser then accepts it, the
// chart's schema and docs/config.md list it after
// scripts/generate-config-schema.py); its meaning is the parser's.
#include "tokenwell/agent/config/config_schema.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace tw::config_schema {
namespace {

using nlohmann::ordered_json;
using namespace std::string_view_literals;

// --- patterns (JSON Schema regexes; control characters are literal) -----
// An entry name: a segment slot key and a path segment of the socket API.
constexpr std::string_view kEntryName = "^[A-Za-z0-9._-]{1,64}$";
// Tenant and client ids go into URL paths: GUIDs or domain names.
constexpr std::string_view kIdentifier = "^[A-Za-z0-9._-]{1,256}$";
// A URL without spaces, controls, query or fragment.
constexpr std::string_view kHttpsUrl = "^https://[^\x01-\x20\x7f?#]+$";
constexpr std::string_view kHttpOrHttpsUrl = "^https?://[^\x01-\x20\x7f?#]+$";
constexpr std::string_view kHttpsAnyUrl = "^https://.+$";
constexpr std::string_view kEntraScope = "^[^\x01-\x20\x7f]+/\\.default$";
constexpr std::string_view kNoSpaces = "^[^\x01-\x20\x7f]+$";
constexpr std::string_view kNoControls = "^[^\x01-\x1f]+$";

// --- allowed values --------------------------------------------------------
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};
constexpr std::string_view kLogFormats[] = {"json", "text"};
constexpr std::string_view kAssertionAlgorithms[] = {"PS256", "RS256"};
constexpr std::string_view kKeyAlgorithms[] = {"ES256", "RS256", "PS256", "EdDSA", "Ed25519"};

// --- shared JSON Schema fragments (definitions) ----------------------------
constexpr std::string_view kDurationSchema = R"json({
  "description": "\"90s\", \"5m\", \"1h\", \"250ms\", \"1d\" or seconds as a number (at most 365 days)",
  "anyOf": [
    {"type": "string", "pattern": "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ms|s|m|h|d)?$"},
    {"type": "number", "minimum": 0, "maximum": 31536000}
  ]})json";
constexpr std::string_view kIdsSchema = R"json({
  "type": "array",
  "items": {"type": "integer", "minimum": 0, "maximum": 2147483647}})json";
// "IPv4:PORT", "[IPv6]:PORT" or "" (no TCP listener); a port 0 to 65535.
constexpr std::string_view kListenSchema = R"json({
  "type": "string",
  "pattern": "^$|^(([0-9]{1,3}\\.){3}[0-9]{1,3}|\\[[0-9A-Fa-f:.]+\\]):(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"})json";
constexpr std::string_view kFileUsernameSchema = R"json({
  "oneOf": [
    {"type": "string"},
    {"type": "object", "additionalProperties": false, "required": ["value"],
     "properties": {"value": {"type": "string", "minLength": 1}}}
  ]})json";

// --- the objects, leaves first ---------------------------------------------
constexpr Property kRefreshProps[] = {
    {.key = "ratio", .kind = Kind::number,
     .description = "Refresh at issued + ratio × lifetime.", .default_value = "0.75",
     .minimum = 0.01, .maximum = 0.99, .example = "0.6"},
    {.key = "min_remaining", .kind = Kind::duration,
     .description = "Refresh no later than this long before the token expires; a value closer to its expiry than this counts as no valid value for the backoff.",
     .default_value = "\"5m\"", .example = "\"10m\""},
    {.key = "jitter", .kind = Kind::number,
     .description = "Spread each refresh by ± this fraction of the lifetime, so a fleet never refreshes in lockstep.",
     .default_value = "0.05", .minimum = 0, .maximum = 0.5, .example = "0.1"},
    {.key = "retry_min", .kind = Kind::duration,
     .description = "First backoff after a failed fetch (exponential, full jitter); at least 10ms.",
     .default_value = "\"1s\"", .example = "\"2s\""},
    {.key = "retry_max", .kind = Kind::duration,
     .description = "Backoff cap while a valid value is still served; not shorter than retry_min.",
     .default_value = "\"60s\"", .example = "\"30s\""},
    {.key = "retry_max_expired", .kind = Kind::duration,
     .description = "Backoff cap once no valid value is left (expired or inside min_remaining); at least 10ms, not longer than retry_max. Unset, it is min(8s, retry_max).",
     .default_value = "\"8s\"", .example = "\"5s\""},
    {.key = "retry_after_max", .kind = Kind::duration,
     .description = "The longest Retry-After (429/503) honoured; a longer one is clamped to it and logged. While a valid value is served, a Retry-After is also cut so the next attempt comes before the value becomes unusable (expiry minus min_remaining; the backoff alone when that has passed), and logged. At least 1s.",
     .default_value = "\"5m\"", .example = "\"2m\""},
    {.key = "timeout", .kind = Kind::duration,
     .description = "Each request to the IdP, connect to last byte; 100ms to 5m.",
     .default_value = "\"10s\"", .example = "\"15s\""},
};
constexpr ObjectSchema kRefresh = {
    .id = "refresh", .title = "refresh (credentials)",
    .description = "When a credential is refreshed and how failures are retried.",
    .properties = kRefreshProps};

constexpr Property kUsernameProps[] = {
    {.key = "claim", .kind = Kind::string,
     .description = "The access token claim whose value is the username (Azure Cache for Redis wants the object id, oid).",
     .example = "\"oid\""},
    {.key = "value", .kind = Kind::string, .description = "A literal username.",
     .example = "\"app\""},
};
constexpr std::string_view kClaimOrValue[] = {"claim", "value"};
constexpr ObjectSchema kUsername = {
    .id = "username", .title = "username (entra, oauth2)",
    .description = "Where the username published with the token comes from: exactly one of claim or value.",
    .properties = kUsernameProps, .exactly_one_of = kClaimOrValue};

// auth blocks: one object per method.
constexpr Property kWorkloadIdentityProps[] = {
    {.key = "token_file", .kind = Kind::path,
     .description = "The federated token (a projected service account token), sent as the client assertion; read again before every request.",
     .default_value = "$AZURE_FEDERATED_TOKEN_FILE", .example = "\"/var/run/secrets/azure/tokens/azure-identity-token\""},
};
constexpr ObjectSchema kWorkloadIdentity = {
    .id = "auth.workload_identity", .title = "auth, method workload_identity",
    .description = "Azure Workload Identity (the default method).", .properties = kWorkloadIdentityProps};

constexpr Property kClientSecretProps[] = {
    {.key = "secret_file", .kind = Kind::path, .description = "The client secret; read again when it changes.",
     .required = true, .example = "\"/etc/tokenwell/secret/client-secret\""},
};
constexpr ObjectSchema kClientSecret = {
    .id = "auth.client_secret", .title = "auth, method client_secret",
    .description = "An application's client secret from a mounted file.", .properties = kClientSecretProps};

constexpr Property kClientCertificateProps[] = {
    {.key = "certificate_file", .kind = Kind::path,
     .description = "PEM certificate(s) and private key in one file; read again when it changes.",
     .required = true, .example = "\"/etc/tokenwell/cert/client.pem\""},
    {.key = "send_x5c", .kind = Kind::boolean,
     .description = "Send the certificate chain (x5c) with the assertion (subject name / issuer authentication).",
     .default_value = "false", .example = "true"},
    {.key = "algorithm", .kind = Kind::string, .description = "The assertion's signature algorithm.",
     .default_value = "\"PS256\"", .values = kAssertionAlgorithms, .example = "\"RS256\""},
};
constexpr ObjectSchema kClientCertificate = {
    .id = "auth.client_certificate", .title = "auth, method client_certificate (entra)",
    .description = "A certificate credential: a signed client assertion.", .properties = kClientCertificateProps};

constexpr Property kOAuth2ClientCertificateProps[] = {
    kClientCertificateProps[0],
    kClientCertificateProps[1],
    {.key = "algorithm", .kind = Kind::string, .description = "The assertion's signature algorithm.",
     .default_value = "\"RS256\"", .values = kAssertionAlgorithms, .example = "\"PS256\""},
    {.key = "key_id", .kind = Kind::string, .description = "The assertion header's kid, if the IdP wants one.",
     .example = "\"client-2026\""},
};
constexpr ObjectSchema kOAuth2ClientCertificate = {
    .id = "auth.oauth2.client_certificate", .title = "auth, method client_certificate (oauth2)",
    .description = "A signed client assertion (RFC 7523).", .properties = kOAuth2ClientCertificateProps};

constexpr Property kManagedIdentityProps[] = {
    {.key = "endpoint", .kind = Kind::string,
     .description = "The identity endpoint (http or https, no query).",
     .default_value = "$IDENTITY_ENDPOINT with $IDENTITY_HEADER (App Service), else IMDS http://169.254.169.254/metadata/identity/oauth2/token",
     .pattern = kHttpOrHttpsUrl, .example = "\"http://169.254.169.254/metadata/identity/oauth2/token\""},
    {.key = "client_id", .kind = Kind::string, .description = "A user-assigned identity by client id.",
     .example = "\"11111111-2222-3333-4444-555555555555\""},
    {.key = "object_id", .kind = Kind::string, .description = "A user-assigned identity by object id.",
     .example = "\"11111111-2222-3333-4444-555555555555\""},
    {.key = "resource_id", .kind = Kind::string, .description = "A user-assigned identity by ARM resource id.",
     .example = "\"/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/i\""},
};
constexpr std::string_view kOneIdentity[] = {"client_id", "object_id", "resource_id"};
constexpr ObjectSchema kManagedIdentity = {
    .id = "auth.managed_identity", .title = "auth, method managed_identity (entra)",
    .description = "A VM's or App Service's managed identity; at most one of client_id, object_id, resource_id (none: the system-assigned identity). tenant_id and client_id of the credential are then not needed.",
    .properties = kManagedIdentityProps, .at_most_one_of = kOneIdentity};

constexpr Variant kEntraAuthVariants[] = {
    {"workload_identity", &kWorkloadIdentity},
    {"client_secret", &kClientSecret},
    {"client_certificate", &kClientCertificate},
    {"managed_identity", &kManagedIdentity},
};
constexpr Property kAuthProps[] = {
    {.key = "method", .kind = Kind::string, .description = "How the agent proves its identity to the IdP.",
     .default_value = "\"workload_identity\""},
};
constexpr ObjectSchema kEntraAuth = {
    .id = "auth.entra", .title = "auth (entra)",
    .description = "How an entra credential authenticates.", .properties = kAuthProps,
    .selector = "method", .default_variant = "workload_identity", .variants = kEntraAuthVariants};

constexpr Variant kOAuth2AuthVariants[] = {
    {"workload_identity", &kWorkloadIdentity},
    {"client_secret", &kClientSecret},
    {"client_certificate", &kOAuth2ClientCertificate},
};
constexpr ObjectSchema kOAuth2Auth = {
    .id = "auth.oauth2", .title = "auth (oauth2)",
    .description = "How an oauth2 credential authenticates (no managed identity).", .properties = kAuthProps,
    .selector = "method", .default_variant = "workload_identity", .variants = kOAuth2AuthVariants};

// credentials: common keys, then one object per source.
constexpr Property kCaFile = {
    .key = "ca_file", .kind = Kind::path,
    .description = "Extra CA certificates (PEM) for the IdP's TLS, added to the system bundle (which honours SSL_CERT_FILE).",
    .example = "\"/etc/tokenwell/ca.pem\""};
constexpr Property kEntraProps[] = {
    {.key = "username", .kind = Kind::object, .description = "The username published with the token.",
     .default_value = "{\"claim\": \"oid\"}", .object = &kUsername, .example = "{\"claim\": \"oid\"}"},
    {.key = "tenant_id", .kind = Kind::string,
     .description = "The directory (tenant) id or domain; required unless AZURE_TENANT_ID is set or the method is managed_identity.",
     .default_value = "$AZURE_TENANT_ID", .pattern = kIdentifier, .example = "\"66666666-7777-8888-9999-000000000000\""},
    {.key = "client_id", .kind = Kind::string,
     .description = "The application (client) id; required unless AZURE_CLIENT_ID is set or the method is managed_identity.",
     .default_value = "$AZURE_CLIENT_ID", .pattern = kIdentifier, .example = "\"11111111-2222-3333-4444-555555555555\""},
    {.key = "scope", .kind = Kind::string,
     .description = "One resource's /.default scope (the client-credentials flow).",
     .default_value = "\"https://redis.azure.com/.default\"", .pattern = kEntraScope,
     .example = "\"https://redis.azure.com/.default\""},
    {.key = "authority_host", .kind = Kind::string,
     .description = "The Entra ID endpoint (sovereign clouds, tests); the token request goes to {authority_host}{tenant_id}/oauth2/v2.0/token.",
     .default_value = "$AZURE_AUTHORITY_HOST, else \"https://login.microsoftonline.com/\"", .pattern = kHttpsUrl,
     .example = "\"https://login.microsoftonline.com/\""},
    {.key = "auth", .kind = Kind::object, .description = "How the agent authenticates (see auth (entra)).",
     .default_value = "{\"method\": \"workload_identity\"}", .object = &kEntraAuth,
     .example = "{\"method\": \"workload_identity\"}"},
    kCaFile,
};
constexpr ObjectSchema kEntraCredential = {
    .id = "credential.entra", .title = "credentials, source entra",
    .description = "A Microsoft Entra ID access token (client-credentials flow, or managed identity). On AKS with Workload Identity, {\"name\": \"redis\", \"source\": \"entra\"} is complete.",
    .properties = kEntraProps};

constexpr Property kOAuth2Props[] = {
    {.key = "username", .kind = Kind::object, .description = "The username published with the token.",
     .default_value = "{\"claim\": \"sub\"}", .object = &kUsername, .example = "{\"value\": \"orders\"}"},
    {.key = "token_url", .kind = Kind::string, .description = "The IdP's token endpoint.", .required = true,
     .pattern = kHttpsUrl, .example = "\"https://idp.example.com/oauth2/token\""},
    {.key = "client_id", .kind = Kind::string, .description = "The client id.", .required = true,
     .pattern = kNoSpaces, .example = "\"orders\""},
    {.key = "scope", .kind = Kind::string, .description = "The scope parameter; absent, none is sent.",
     .pattern = kNoControls, .example = "\"cache.read cache.write\""},
    {.key = "auth", .kind = Kind::object, .description = "How the agent authenticates (see auth (oauth2)).",
     .required = true, .object = &kOAuth2Auth,
     .example = "{\"method\": \"client_secret\", \"secret_file\": \"/etc/tokenwell/secret/client-secret\"}"},
    kCaFile,
};
constexpr ObjectSchema kOAuth2Credential = {
    .id = "credential.oauth2", .title = "credentials, source oauth2",
    .description = "An access token from any OAuth2 client-credentials IdP.", .properties = kOAuth2Props};

constexpr Property kFileProps[] = {
    {.key = "path", .kind = Kind::path,
     .description = "The file holding the secret (e.g. a mounted Secret); watched, published again when it changes.",
     .required = true, .example = "\"/etc/redis-password/password\""},
    {.key = "username", .kind = Kind::custom,
     .description = "The username published with it: a string or {\"value\": \"...\"}.", .default_value = "\"\" (none)",
     .schema = kFileUsernameSchema, .example = "\"default\""},
};
constexpr ObjectSchema kFileCredential = {
    .id = "credential.file", .title = "credentials, source file",
    .description = "A static secret from a mounted file, e.g. a Redis password an operator rotates.",
    .properties = kFileProps};

constexpr Variant kCredentialVariants[] = {
    {"entra", &kEntraCredential},
    {"oauth2", &kOAuth2Credential},
    {"file", &kFileCredential},
};
constexpr Property kCredentialProps[] = {
    {.key = "name", .kind = Kind::string,
     .description = "1 to 64 characters of [A-Za-z0-9._-], unique among credentials and keysets.",
     .required = true, .pattern = kEntryName, .example = "\"redis\""},
    {.key = "source", .kind = Kind::string, .description = "Where the credential comes from.", .required = true},
    {.key = "refresh", .kind = Kind::object, .description = "When to refresh and how to retry (see refresh).",
     .object = &kRefresh, .example = "{\"ratio\": 0.6}"},
};
constexpr ObjectSchema kCredential = {
    .id = "credential", .title = "credentials[]",
    .description = "A credential the agent keeps fresh and publishes under its name.",
    .properties = kCredentialProps, .selector = "source", .variants = kCredentialVariants};

// keysets
constexpr Property kJwksRefreshProps[] = {
    {.key = "min", .kind = Kind::duration, .description = "The shortest refresh interval (Cache-Control max-age is clamped to [min, max]); at least 1s.",
     .default_value = "\"5m\"", .example = "\"10m\""},
    {.key = "max", .kind = Kind::duration, .description = "The longest refresh interval; not shorter than min.",
     .default_value = "\"24h\"", .example = "\"12h\""},
    {.key = "default", .kind = Kind::duration, .description = "The interval when the response has no max-age; between min and max.",
     .default_value = "\"1h\"", .example = "\"2h\""},
    {.key = "cooldown", .kind = Kind::duration,
     .description = "POST /v1/keysets/NAME/refresh refetches at most this often (429 with Retry-After sooner); at least 1s.",
     .default_value = "\"30s\"", .example = "\"1m\""},
    {.key = "retry_min", .kind = Kind::duration, .description = "First backoff after a failed fetch; at least 10ms.",
     .default_value = "\"1s\"", .example = "\"2s\""},
    {.key = "retry_max", .kind = Kind::duration, .description = "Backoff cap; not shorter than retry_min.",
     .default_value = "\"5m\"", .example = "\"10m\""},
};
constexpr ObjectSchema kJwksRefresh = {
    .id = "keyset.refresh", .title = "refresh (jwks keysets)",
    .description = "When a JWKS is fetched again and how failures are retried.", .properties = kJwksRefreshProps};

constexpr std::string_view kIssuerOrJwksUri[] = {"issuer", "jwks_uri"};
constexpr Property kJwksProps[] = {
    {.key = "issuer", .kind = Kind::string,
     .description = "OpenID Connect discovery: issuer + /.well-known/openid-configuration names the JWKS (its issuer must equal this, its jwks_uri be https).",
     .pattern = kHttpsAnyUrl, .example = "\"https://login.microsoftonline.com/66666666-7777-8888-9999-000000000000/v2.0\""},
    {.key = "jwks_uri", .kind = Kind::string, .description = "The JWKS address itself.", .pattern = kHttpsAnyUrl,
     .example = "\"https://idp.example.com/keys\""},
    {.key = "ca_file", .kind = Kind::path, .description = "Extra CA certificates (PEM) for the TLS of issuer/jwks_uri.",
     .example = "\"/etc/tokenwell/ca.pem\""},
    {.key = "refresh", .kind = Kind::object, .description = "When to fetch again (see refresh (jwks keysets)).",
     .object = &kJwksRefresh, .example = "{\"min\": \"10m\"}"},
    {.key = "timeout", .kind = Kind::duration, .description = "Each request, 100ms to 5m.", .default_value = "\"10s\"",
     .example = "\"5s\""},
};
constexpr ObjectSchema kJwksKeyset = {
    .id = "keyset.jwks", .title = "keysets, source jwks",
    .description = "An identity provider's public keys, for verifying only; exactly one of issuer or jwks_uri.",
    .properties = kJwksProps, .exactly_one_of = kIssuerOrJwksUri};

constexpr Property kKeyFilesProps[] = {
    {.key = "directory", .kind = Kind::path,
     .description = "One key per file (PEM or JWK; names starting with '.' are ignored), watched; the private key whose file name sorts last signs.",
     .required = true, .example = "\"/etc/tokenwell/keys\""},
    {.key = "private_in_segment", .kind = Kind::boolean,
     .description = "Publish the signing key's private JWK in the segment, for apps that sign in-process "
                    "(tokenwell_jwt_sign); otherwise the segment holds the public JWKS only and apps sign through "
                    "POST /v1/keysets/NAME/sign (docs/socket-api.md).",
     .default_value = "false", .example = "true"},
};
constexpr ObjectSchema kKeyFilesKeyset = {
    .id = "keyset.key_files", .title = "keysets, source key_files",
    .description = "Keys an operator provides, e.g. a mounted Secret.", .properties = kKeyFilesProps};

constexpr Property kGeneratedProps[] = {
    {.key = "algorithm", .kind = Kind::string, .description = "The keys' algorithm (Ed25519 is another name for EdDSA).",
     .default_value = "\"ES256\"", .values = kKeyAlgorithms, .example = "\"EdDSA\""},
    {.key = "rotate_every", .kind = Kind::duration,
     .description = "How long a key signs; at least 10s, longer than publish_ahead.", .default_value = "\"24h\"",
     .example = "\"12h\""},
    {.key = "publish_ahead", .kind = Kind::duration,
     .description = "A key is in the JWKS this long before it signs; positive.", .default_value = "\"1h\"",
     .example = "\"30m\""},
    {.key = "retain", .kind = Kind::duration,
     .description = "A retired key stays in the JWKS this long; at least max_token_lifetime + leeway.",
     .default_value = "\"25h\"", .example = "\"26h\""},
    {.key = "max_token_lifetime", .kind = Kind::duration,
     .description = "The longest lifetime of the tokens signed with these keys; positive.", .default_value = "\"1h\"",
     .example = "\"30m\""},
    {.key = "leeway", .kind = Kind::duration, .description = "The verifiers' clock leeway.", .default_value = "\"60s\"",
     .example = "\"30s\""},
    {.key = "private_in_segment", .kind = Kind::boolean,
     .description = "Publish the signing key's private JWK in the segment, for apps that sign in-process "
                    "(tokenwell_jwt_sign); otherwise the segment holds the public JWKS only and apps sign through "
                    "POST /v1/keysets/NAME/sign (docs/socket-api.md).",
     .default_value = "false", .example = "true"},
};
constexpr ObjectSchema kGeneratedKeyset = {
    .id = "keyset.generated", .title = "keysets, source generated",
    .description = "Keys the agent makes and rotates itself.", .properties = kGeneratedProps};

constexpr Variant kKeysetVariants[] = {
    {"jwks", &kJwksKeyset},
    {"key_files", &kKeyFilesKeyset},
    {"generated", &kGeneratedKeyset},
};
constexpr Property kKeysetProps[] = {
    kCredentialProps[0],  // name
    {.key = "source", .kind = Kind::string, .description = "Where the keys come from.", .required = true},
};
constexpr ObjectSchema kKeyset = {
    .id = "keyset", .title = "keysets[]",
    .description = "A set of JWT keys the agent keeps fresh and publishes (docs/keysets.md).",
    .properties = kKeysetProps, .selector = "source", .variants = kKeysetVariants};

// top level
constexpr Property kLogProps[] = {
    {.key = "level", .kind = Kind::string, .description = "The lowest level logged (--log-level overrides it).",
     .default_value = "\"info\"", .values = kLogLevels, .example = "\"debug\""},
    {.key = "format", .kind = Kind::string, .description = "One JSON object per line, or text.",
     .default_value = "\"json\"", .values = kLogFormats, .example = "\"text\""},
};
constexpr ObjectSchema kLog = {.id = "log", .title = "log", .description = "The agent's log on stderr.",
                               .properties = kLogProps};

constexpr Property kAllowProps[] = {
    {.key = "uids", .kind = Kind::ids,
     .description = "The agent's own uid only, which is always allowed (it owns the segment); another uid is refused.",
     .default_value = "[the agent's uid]"},  // no example: the only valid one is whoever runs the agent
    {.key = "gids", .kind = Kind::ids,
     .description = "At most one gid, which the agent must have (or CAP_CHOWN): the segment's group (mode 0640) and "
                    "the group allowed on the socket; [] makes the segment owner-only (0600).",
     .default_value = "[the agent's gid]", .example = "[2000]"},
};
constexpr ObjectSchema kAllow = {
    .id = "allow", .title = "allow",
    .description = "Who may read credentials, from the segment file and the socket alike (docs/security.md): the "
                   "agent's uid and every process whose gid or supplementary group is the one gid.",
    .properties = kAllowProps};

constexpr Property kConfigProps[] = {
    {.key = "runtime_dir", .kind = Kind::path,
     .description = "Where the segment (segment) and the socket (agent.sock) are made; shared with the app containers.",
     .default_value = "$TOKENWELL_DIR, else \"/run/tokenwell\"", .example = "\"/run/tokenwell\""},
    {.key = "runtime_dir_read_only_for_others", .kind = Kind::boolean,
     .description = "Every other container mounts runtime_dir read-only (a Kubernetes emptyDir): accept it although "
                    "others may write it and it has no sticky bit (docs/security.md). Changed by a restart only.",
     .default_value = "false", .example = "true"},
    {.key = "listen", .kind = Kind::custom,
     .description = "The TCP address of /metrics, /healthz and /readyz (never a secret): IPv4:PORT or [IPv6]:PORT; \"\" turns it off. Changed by a restart only.",
     .default_value = "\"0.0.0.0:9464\"", .schema = kListenSchema, .example = "\"127.0.0.1:9464\""},
    {.key = "log", .kind = Kind::object, .description = "Logging (see log).", .object = &kLog,
     .example = "{\"level\": \"debug\"}"},
    {.key = "allow", .kind = Kind::object, .description = "Who may read credentials (see allow).", .object = &kAllow,
     .example = "{\"gids\": [2000]}"},
    {.key = "credentials", .kind = Kind::array, .description = "The credentials to keep fresh.",
     .default_value = "[]", .object = &kCredential},
    {.key = "keysets", .kind = Kind::array, .description = "The JWT keysets to keep fresh.", .default_value = "[]",
     .object = &kKeyset},
};
constexpr ObjectSchema kConfig = {
    .id = "config", .title = "top level",
    .description = "The agent's config file (tokenwell-agent --config FILE): one JSON object.",
    .properties = kConfigProps};

// --- JSON Schema --------------------------------------------------------
std::string ref(std::string_view id) { return "#/definitions/" + std::string(id); }

ordered_json values_array(std::span<const std::string_view> values) {
  ordered_json a = ordered_json::array();
  for (auto v : values) a.push_back(v);
  return a;
}

ordered_json property_schema(const Property& p) {
  ordered_json s = ordered_json::object();
  switch (p.kind) {
    case Kind::string:
      s["type"] = "string";
      if (!p.values.empty()) s["enum"] = values_array(p.values);
      else s["minLength"] = 1;
      if (!p.pattern.empty()) s["pattern"] = p.pattern;
      break;
    case Kind::path:
      s["type"] = "string";
      s["pattern"] = "^/";
      break;
    case Kind::boolean: s["type"] = "boolean"; break;
    case Kind::number:
      s["type"] = "number";
      s["minimum"] = p.minimum;
      s["maximum"] = p.maximum;
      break;
    case Kind::duration: s["$ref"] = ref("duration"); break;
    case Kind::ids: s["$ref"] = ref("ids"); break;
    case Kind::object: s["$ref"] = ref(p.object->id); break;
    case Kind::array:
      s["type"] = "array";
      s["items"] = {{"$ref", ref(p.object->id)}};
      break;
    case Kind::custom: s = ordered_json::parse(p.schema); break;
  }
  // Beside a $ref, draft-07 validators ignore these: they are for people
  // (docs/config.md is made from them).
  s["description"] = p.description;
  if (!p.default_value.empty()) s["x-default"] = p.default_value;
  if (!p.example.empty()) s["x-example"] = ordered_json::parse(p.example);
  return s;
}

ordered_json required_of(std::span<const Property> props) {
  ordered_json r = ordered_json::array();
  for (const Property& p : props)
    if (p.required) r.push_back(p.key);
  return r;
}

// The constraints among an object's own keys.
void add_key_rules(const ObjectSchema& o, ordered_json& s) {
  if (!o.exactly_one_of.empty()) {
    ordered_json one = ordered_json::array();
    for (auto k : o.exactly_one_of) one.push_back({{"required", {k}}});
    s["oneOf"] = one;
  }
  if (!o.at_most_one_of.empty()) {
    ordered_json pairs = ordered_json::array();
    for (std::size_t i = 0; i < o.at_most_one_of.size(); ++i)
      for (std::size_t j = i + 1; j < o.at_most_one_of.size(); ++j)
        pairs.push_back({{"required", {o.at_most_one_of[i], o.at_most_one_of[j]}}});
    s["not"] = {{"anyOf", pairs}};
  }
}

ordered_json object_schema(const ObjectSchema& o) {
  ordered_json s = {{"title", o.title}, {"type", "object"}, {"description", o.description}};
  ordered_json props = ordered_json::object();
  for (const Property& p : o.properties) props[std::string(p.key)] = property_schema(p);
  if (o.variants.empty()) {
    s["additionalProperties"] = false;
    s["properties"] = props;
    if (auto r = required_of(o.properties); !r.empty()) s["required"] = r;
    add_key_rules(o, s);
    return s;
  }
  // Variants: the selector names one; each branch lists every key it allows.
  ordered_json selector = props[std::string(o.selector)];
  selector["enum"] = ordered_json::array();
  for (const Variant& v : o.variants) selector["enum"].push_back(v.value);
  selector.erase("minLength");
  props[std::string(o.selector)] = selector;
  s["properties"] = props;
  ordered_json required = required_of(o.properties);
  if (!required.empty()) s["required"] = required;
  ordered_json branches = ordered_json::array();
  for (const Variant& v : o.variants) {
    ordered_json when = {{"properties", {{std::string(o.selector), {{"const", v.value}}}}}};
    // Absent, the selector means the default variant: that branch matches it too.
    if (v.value != o.default_variant) when["required"] = {o.selector};
    ordered_json then = {{"additionalProperties", false}};
    ordered_json allowed = ordered_json::object();
    for (const Property& p : o.properties) allowed[std::string(p.key)] = true;
    for (const Property& p : v.schema->properties) allowed[std::string(p.key)] = property_schema(p);
    then["properties"] = allowed;
    if (auto r = required_of(v.schema->properties); !r.empty()) then["required"] = r;
    then["title"] = v.schema->title;
    then["description"] = v.schema->description;
    add_key_rules(*v.schema, then);
    branches.push_back({{"if", when}, {"then", then}});
  }
  s["allOf"] = branches;
  return s;
}

void collect(const ObjectSchema& o, std::vector<const ObjectSchema*>& out, std::set<std::string_view>& seen) {
  if (!seen.insert(o.id).second) return;
  out.push_back(&o);
  auto visit_props = [&](std::span<const Property> props) {
    for (const Property& p : props)
      if (p.object) collect(*p.object, out, seen);
  };
  visit_props(o.properties);
  for (const Variant& v : o.variants) {
    if (seen.insert(v.schema->id).second) out.push_back(v.schema);
    visit_props(v.schema->properties);
  }
}

}  // namespace

std::vector<std::string_view> ObjectSchema::keys(std::string_view value) const {
  std::vector<std::string_view> out;
  for (const Property& p : properties) out.push_back(p.key);
  if (const ObjectSchema* v = value.empty() ? nullptr : variant(value)) {
    if (!selector.empty() && std::find(out.begin(), out.end(), selector) == out.end()) out.push_back(selector);
    for (const Property& p : v->properties) out.push_back(p.key);
  }
  return out;
}

const Property& ObjectSchema::property(std::string_view key, std::string_view value) const {
  for (const Property& p : properties)
    if (p.key == key) return p;
  if (const ObjectSchema* v = value.empty() ? nullptr : variant(value))
    for (const Property& p : v->properties)
      if (p.key == key) return p;
  throw std::logic_error("config_schema: " + std::string(id) + " has no key " + std::string(key));
}

const ObjectSchema* ObjectSchema::variant(std::string_view value) const {
  for (const Variant& v : variants)
    if (v.value == value) return v.schema;
  return nullptr;
}

std::string ObjectSchema::variant_list() const {
  std::string out;
  for (std::size_t i = 0; i < variants.size(); ++i) {
    if (i > 0) out += ", ";
    out += variants[i].value;
  }
  return out;
}

const ObjectSchema& config() { return kConfig; }
const ObjectSchema& log() { return kLog; }
const ObjectSchema& allow() { return kAllow; }
const ObjectSchema& credential() { return kCredential; }
const ObjectSchema& refresh() { return kRefresh; }
const ObjectSchema& username() { return kUsername; }
const ObjectSchema& entra_auth() { return kEntraAuth; }
const ObjectSchema& oauth2_auth() { return kOAuth2Auth; }
const ObjectSchema& keyset() { return kKeyset; }
const ObjectSchema& jwks_refresh() { return kJwksRefresh; }

std::vector<const ObjectSchema*> all_objects() {
  std::vector<const ObjectSchema*> out;
  std::set<std::string_view> seen;
  collect(kConfig, out, seen);
  return out;
}

nlohmann::ordered_json json_schema() {
  ordered_json definitions = ordered_json::object();
  definitions["duration"] = ordered_json::parse(kDurationSchema);
  definitions["ids"] = ordered_json::parse(kIdsSchema);
  for (const ObjectSchema* o : all_objects()) {
    if (o == &kConfig) continue;
    // Variant objects are spelled out inside their parent's branches.
    bool is_variant = false;
    for (const ObjectSchema* parent : all_objects())
      for (const Variant& v : parent->variants) is_variant = is_variant || v.schema == o;
    if (!is_variant) definitions[std::string(o->id)] = object_schema(*o);
  }
  ordered_json root = {{"$schema", "http://json-schema.org/draft-07/schema#"},
                       {"title", "tokenwell-agent config"}};
  const ordered_json top = object_schema(kConfig);
  for (const auto& [key, value] : top.items()) root[key] = value;
  root["definitions"] = definitions;
  return root;
}

}  // namespace tw::config_schema
