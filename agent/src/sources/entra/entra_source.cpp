// entra_source.cpp -- client-credentials sources (Entra v2.0 token endpoint,
// any OAuth2 token endpoint) and the managed identity source.
//
// Every fetch() is one HTTP request and ends in one of three ways: a
// validated FetchedCredential; a FetchError with the HTTP status and the IdP's
// OAuth2 error (plus Retry-After on 429/503); or a FetchError without status
// for what went wrong before a response (files, TLS, timeout, size cap).
#include "tokenwell/agent/sources/entra/entra_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "tokenwell/agent/common/file_reader.hpp"
#include "tokenwell/agent/sources/entra/client_assertion.hpp"
#include "tokenwell/agent/sources/entra/token_response.hpp"

#include "credential_file.hpp"

namespace tw {
namespace {

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

// ---- files

// What identifies one version of a file; any difference means "re-read".
struct FileStamp {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  timespec mtime{};
  timespec ctime{};
  bool operator==(const FileStamp& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
           mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
  }
};

std::string errno_text(const std::filesystem::path& path) { return path.string() + ": " + std::strerror(errno); }

Result<FileStamp> stamp_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error("cannot stat " + errno_text(path));
  return FileStamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

// A file whose parsed value is kept until the file changes.
template <typename T>
class CachedFile {
 public:
  explicit CachedFile(std::filesystem::path path) : path_(std::move(path)) {}

  template <typename Load>
  Result<const T*> get(Load&& load) {
    auto stamp = stamp_of(path_);
    if (!stamp) return stamp.error();
    if (value_ && stamp_ && *stamp_ == *stamp) return &*value_;
    auto loaded = load(path_);
    if (!loaded) return loaded.error();
    value_.emplace(std::move(*loaded));
    stamp_ = *stamp;
    return &*value_;
  }
  // After the IdP refused the credential: read the file again next time even
  // if it looks unchanged (a same-size rewrite within one mtime tick).
  void invalidate() { stamp_.reset(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::optional<FileStamp> stamp_;
  std::optional<T> value_;
};

// ---- responses

FetchError fetch_error(std::string message, int status = 0) {
  FetchError e;
  e.message = std::move(message);
  e.http_status = status;
  return e;
}

// Turns an HTTP response into a validated credential or a FetchError.
FetchResult<FetchedCredential> finish(const HttpResponse& response, const std::string& where, const UsernameSpec& username,
                               const SourceContext& ctx, const std::vector<std::string_view>& redact) {
  const std::string_view body = response.body.reveal();
  if (response.status != 200) {
    FetchError e = fetch_error(where + ": " + describe_error_response(response.status, body, redact), response.status);
    if (response.status == 429 || response.status == 503) {
      if (auto h = response.header("retry-after")) e.retry_after = parse_retry_after(*h, ctx.clock.now());
    }
    return e;
  }
  auto parsed = parse_token_response(body);
  if (!parsed) return fetch_error(where + ": bad token response: " + parsed.error().message, response.status);
  auto credential = validate_token_response(std::move(*parsed), username, ctx.clock.unix_seconds(), ctx.checks);
  if (!credential) return fetch_error(where + ": token refused: " + credential.error().message, response.status);
  return std::move(*credential);
}

// ---- client credentials against a token endpoint

struct TokenEndpointSettings {
  std::string token_url;
  std::string client_id;
  std::string scope;
  OAuth2Auth auth;
  UsernameSpec username;
};

class TokenEndpointSource final : public CredentialSource {
 public:
  TokenEndpointSource(TokenEndpointSettings settings, const SourceContext& ctx)
      : s_(std::move(settings)), ctx_(ctx), where_("token endpoint " + redact_url(s_.token_url)) {
    if (const auto* cs = std::get_if<ClientSecretAuth>(&s_.auth)) secret_.emplace(cs->secret_file);
    if (const auto* cc = std::get_if<ClientCertificateAuth>(&s_.auth)) certificate_.emplace(cc->certificate_file);
  }

  FetchResult<FetchedCredential> fetch() override {
    Secret credential;  // the client secret or the client assertion
    if (auto r = client_credential(credential); !r) return fetch_error(r.error().message);
    const bool assertion = !std::holds_alternative<ClientSecretAuth>(s_.auth);

    std::vector<FormField> fields{{"grant_type", "client_credentials"}, {"client_id", s_.client_id}};
    if (!s_.scope.empty()) fields.push_back({"scope", s_.scope});
    if (assertion) {
      fields.push_back({"client_assertion_type", kJwtBearer});
      fields.push_back({"client_assertion", credential.reveal()});
    } else {
      fields.push_back({"client_secret", credential.reveal()});
    }
    HttpRequest request;
    request.method = HttpMethod::post;
    request.url = s_.token_url;
    request.headers = {{"Accept", "application/json"}};
    request.body = form_encode(fields);
    request.timeout = ctx_.timeout;

    auto response = ctx_.http.send(request);
    if (!response) return fetch_error(response.error().message);
    auto result = finish(*response, where_, s_.username, ctx_, {credential.reveal()});
    if (std::holds_alternative<FetchError>(result)) {
      if (secret_) secret_->invalidate();
      if (certificate_) certificate_->invalidate();
    }
    return result;
  }

 private:
  Result<void> client_credential(Secret& out) {
    const std::int64_t now = ctx_.clock.unix_seconds();
    if (const auto* wi = std::get_if<WorkloadIdentityAuth>(&s_.auth)) {
      auto token = read_credential_file(wi->token_file);  // every request: kubelet rotates it
      if (!token) return make_error("auth.token_file: " + token.error().message);
      if (auto claims = parse_jwt_payload(token->reveal()); claims && claims->exp && *claims->exp <= now)
        return make_error("auth.token_file: " + wi->token_file.string() + ": the federated token expired at " +
                          std::to_string(*claims->exp) + " and has not been rotated yet");
      out = std::move(*token);
      return {};
    }
    if (std::holds_alternative<ClientSecretAuth>(s_.auth)) {
      auto secret = secret_->get(read_credential_file);
      if (!secret) return make_error("auth.secret_file: " + secret.error().message);
      out = **secret;
      return {};
    }
    const auto& cc = std::get<ClientCertificateAuth>(s_.auth);
    auto cert = certificate_->get(ClientCertificate::load_file);
    if (!cert) return make_error("auth.certificate_file: " + cert.error().message);
    if ((*cert)->not_after() <= now)
      return make_error("auth.certificate_file: " + cc.certificate_file.string() + ": the certificate expired at " +
                        std::to_string((*cert)->not_after()));
    AssertionClaims claims;
    claims.audience = s_.token_url;
    claims.client_id = s_.client_id;
    claims.jti = make_jti(ctx_.random);
    claims.now = now;
    auto jwt = build_client_assertion(**cert, {.algorithm = cc.algorithm, .send_x5c = cc.send_x5c, .key_id = cc.key_id},
                                      claims);
    if (!jwt) return make_error("auth.certificate_file: " + jwt.error().message);
    out = std::move(*jwt);
    return {};
  }

  TokenEndpointSettings s_;
  SourceContext ctx_;
  std::string where_;
  std::optional<CachedFile<Secret>> secret_;
  std::optional<CachedFile<ClientCertificate>> certificate_;
};

// ---- managed identity (IMDS, App Service)

class ManagedIdentitySource final : public CredentialSource {
 public:
  ManagedIdentitySource(const ManagedIdentityAuth& auth, const std::string& resource, UsernameSpec username,
                        const SourceContext& ctx)
      : ctx_(ctx), username_(std::move(username)), app_service_(auth.kind == ManagedIdentityAuth::Endpoint::app_service),
        identity_header_(auth.identity_header), where_("managed identity endpoint " + redact_url(auth.endpoint)) {
    // The two endpoints name the same things differently.
    url_ = auth.endpoint + (app_service_ ? "?api-version=2019-08-01" : "?api-version=2018-02-01") +
           "&resource=" + percent_encode(resource);
    if (!auth.client_id.empty()) url_ += "&client_id=" + percent_encode(auth.client_id);
    if (!auth.object_id.empty())
      url_ += (app_service_ ? "&principal_id=" : "&object_id=") + percent_encode(auth.object_id);
    if (!auth.resource_id.empty())
      url_ += (app_service_ ? "&mi_res_id=" : "&msi_res_id=") + percent_encode(auth.resource_id);
  }

  FetchResult<FetchedCredential> fetch() override {
    HttpRequest request;
    request.method = HttpMethod::get;
    request.url = url_;
    request.timeout = ctx_.timeout;
    request.bypass_proxy = true;  // link-local / localhost: never through a proxy
    if (app_service_) {
      request.headers = {{"X-IDENTITY-HEADER", std::string(identity_header_.reveal())}};
    } else {
      request.headers = {{"Metadata", "true"}};
    }
    auto response = ctx_.http.send(request);
    for (auto& h : request.headers) explicit_bzero(h.value.data(), h.value.size());
    if (!response) return fetch_error(response.error().message);
    return finish(*response, where_, username_, ctx_, {identity_header_.reveal()});
  }

 private:
  SourceContext ctx_;
  UsernameSpec username_;
  bool app_service_;
  Secret identity_header_;
  std::string where_;
  std::string url_;
};

}  // namespace

std::unique_ptr<CredentialSource> make_entra_source(const EntraConfig& config, const SourceContext& context) {
  if (const auto* mi = std::get_if<ManagedIdentityAuth>(&config.auth))
    return std::make_unique<ManagedIdentitySource>(*mi, config.resource(), config.username, context);
  TokenEndpointSettings s;
  s.token_url = config.token_url();
  s.client_id = config.client_id;
  s.scope = config.scope;
  std::visit(
      [&](const auto& a) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(a)>, ManagedIdentityAuth>) s.auth = a;
      },
      config.auth);
  s.username = config.username;
  return std::make_unique<TokenEndpointSource>(std::move(s), context);
}

std::unique_ptr<CredentialSource> make_oauth2_source(const OAuth2Config& config, const SourceContext& context) {
  TokenEndpointSettings s;
  s.token_url = config.token_url;
  s.client_id = config.client_id;
  s.scope = config.scope;
  s.auth = config.auth;
  s.username = config.username;
  return std::make_unique<TokenEndpointSource>(std::move(s), context);
}

Result<Secret> read_credential_file(const std::filesystem::path& path) {
  return read_file(path, {.max_bytes = 64 * 1024, .trim = Trim::whitespace, .empty_is_error = true});
}

}  // namespace tw
