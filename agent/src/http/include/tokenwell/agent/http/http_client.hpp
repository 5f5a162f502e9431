// http_client.hpp -- the one way the agent talks HTTP(S) to an identity
// provider: a small interface the sources take, and its libcurl implementation.
//
//   CurlHttpClient http({.ca_file = "/etc/tokenwell/ca.pem"});   // or factory.create({...})
//   auto r = http.send({.method = HttpMethod::post, .url = token_url,
//                       .headers = {{"Accept", "application/json"}},
//                       .body = form_encode({{"grant_type", "client_credentials"}}),
//                       .timeout = std::chrono::seconds(10)});
//   if (!r) log(r.error().message);            // never holds the body or a query
//   else if (r->status == 200) parse(r->body.reveal());
//
// Request bodies and response bodies are Secrets: they carry client secrets,
// assertions and access tokens. Errors name the method, the URL without its
// query, and what failed -- never a header value or a body.
//
// CurlHttpClient is thread-safe: requests on one client are serialized (one
// easy handle, so connections are reused across requests).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"

namespace tw {

enum class HttpMethod { get, post };

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  HttpMethod method = HttpMethod::get;
  std::string url;                  // its query may hold secrets: never logged
  std::vector<HttpHeader> headers;  // values may be secrets: never logged
  Secret body;                      // POST: application/x-www-form-urlencoded
  std::chrono::milliseconds timeout{10'000};  // whole request, connect included
  bool bypass_proxy = false;        // e.g. IMDS, which must never be proxied
};

struct HttpResponse {
  int status = 0;
  std::vector<HttpHeader> headers;  // of the final response; names lower-case
  Secret body;                      // may carry an access token

  // The first header named `name` (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Any HTTP status is a response; an Error means no complete response
  // arrived (DNS, connect, TLS, timeout, reset, body over the size cap).
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

struct HttpClientOptions {
  // Extra CA certificates (PEM), trusted in addition to the system bundle
  // (which is $SSL_CERT_FILE / $SSL_CERT_DIR when set).
  std::filesystem::path ca_file;
  std::size_t max_response_bytes = 256 * 1024;  // bigger bodies fail the request
  std::string user_agent = "tokenwell-agent";
};

// A CA bundle file (public certificates, read as text) the way every client
// reads one: a regular file of at most 16 MiB. --check-config reads ca_file
// with it too.
Result<std::string> read_ca_bundle(const std::filesystem::path& path);

// libcurl with TLS peer and host verification always on, proxies from the
// environment (https_proxy, no_proxy, ...), no redirects, HTTP(S) only.
class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(HttpClientOptions options = {});
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<HttpResponse> send(const HttpRequest& request) override;

 private:
  struct State;
  HttpClientOptions options_;
  std::mutex mu_;
  std::unique_ptr<State> state_;
};

// Where the runners get their HTTP clients: one per credential or keyset,
// with its own CA bundle (and connection). Tests pass a factory of scripted
// clients. Thread-compatible; clients are thread-safe as HttpClient says.
class HttpClientFactory {
 public:
  virtual ~HttpClientFactory() = default;
  virtual std::shared_ptr<HttpClient> create(const HttpClientOptions& options) = 0;
};

class CurlHttpClientFactory final : public HttpClientFactory {
 public:
  std::shared_ptr<HttpClient> create(const HttpClientOptions& options) override {
    return std::make_shared<CurlHttpClient>(options);
  }
};

// ---- URL and form encoding (RFC 3986 unreserved characters kept as they are)

std::string percent_encode(std::string_view text);

struct FormField {
  std::string_view name;
  std::string_view value;
};

// An application/x-www-form-urlencoded body. A Secret, because its values are.
Secret form_encode(std::initializer_list<FormField> fields);
Secret form_encode(const std::vector<FormField>& fields);

// `url` without its query and fragment: what errors and logs may show.
std::string redact_url(std::string_view url);

// Retry-After (RFC 9110 10.2.3): delta-seconds or an HTTP-date. A date in the
// past gives 0 s; values are capped at 24 h. nullopt when unparseable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, Clock::time_point now);

}  // namespace tw
