// curl_http_client.cpp -- HttpClient on one libcurl easy handle.
//
// The easy handle lives as long as the client and is reset (not recreated)
// before each request: curl_easy_reset keeps the connection cache, so a
// refresh every few minutes reuses its TLS connection when the IdP allows.
//
// Trust: libcurl's compiled-in bundle, or $SSL_CERT_FILE / $SSL_CERT_DIR when
// set (OpenSSL's own variables, which libcurl alone would ignore). An extra
// `ca_file` is appended to that bundle in memory (CURLOPT_CAINFO_BLOB), so it
// adds trust rather than replacing it, the same way on every libcurl version.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "tokenwell/agent/common/file_reader.hpp"
#include "tokenwell/agent/common/percent_encoding.hpp"
#include "tokenwell/agent/http/http_client.hpp"

namespace tw {
namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxCaBundleBytes = 16 * 1024 * 1024;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

const char* env_or_null(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Per-request transfer state the callbacks write into.
struct Transfer {
  std::string body;
  std::vector<HttpHeader> headers;
  std::size_t header_bytes = 0;
  std::size_t max_body = 0;
  bool body_too_large = false;
  bool headers_too_large = false;

  ~Transfer() {
    if (!body.empty()) explicit_bzero(body.data(), body.size());
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (t->body.size() + bytes > t->max_body) {
    t->body_too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->body.append(data, bytes);
  return bytes;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  t->header_bytes += bytes;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->headers_too_large = true;
    return 0;
  }
  std::string_view line(data, bytes);
  if (line.starts_with("HTTP/")) {  // a new response (after 1xx): start over
    t->headers.clear();
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  t->headers.push_back({lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1)))});
  return bytes;
}

const char* method_name(HttpMethod m) { return m == HttpMethod::post ? "POST" : "GET"; }

}  // namespace

Result<std::string> read_ca_bundle(const std::filesystem::path& path) {
  auto pem = read_file(path, {.max_bytes = kMaxCaBundleBytes});
  if (!pem) return pem.error();
  return std::string(pem->reveal());
}

struct CurlHttpClient::State {
  CURL* easy = nullptr;
  std::string default_ca_file;  // libcurl's compiled-in bundle
};

CurlHttpClient::CurlHttpClient(HttpClientOptions options)
    : options_(std::move(options)), state_(std::make_unique<State>()) {
  init_curl_once();
  state_->easy = curl_easy_init();
  if (state_->easy) {
    char* ca = nullptr;
    if (curl_easy_getinfo(state_->easy, CURLINFO_CAINFO, &ca) == CURLE_OK && ca) state_->default_ca_file = ca;
  }
}

CurlHttpClient::~CurlHttpClient() {
  if (state_->easy) curl_easy_cleanup(state_->easy);
}

Result<HttpResponse> CurlHttpClient::send(const HttpRequest& request) {
  std::lock_guard lock(mu_);
  const std::string where = std::string(method_name(request.method)) + " " + redact_url(request.url);
  auto fail = [&](const std::string& what) -> Result<HttpResponse> { return make_error(where + ": " + what); };
  CURL* easy = state_->easy;
  if (!easy) return fail("cannot initialise libcurl");
  curl_easy_reset(easy);

  // Trust anchors (see the banner).
  std::string ca_blob;
  const char* system_ca = env_or_null("SSL_CERT_FILE");
  if (const char* dir = env_or_null("SSL_CERT_DIR")) curl_easy_setopt(easy, CURLOPT_CAPATH, dir);
  if (!options_.ca_file.empty()) {
    auto extra = read_ca_bundle(options_.ca_file);
    if (!extra) return fail("ca_file: " + extra.error().message);
    const std::string base = system_ca ? system_ca : state_->default_ca_file;
    if (!base.empty()) {
      if (auto sys = read_ca_bundle(base)) ca_blob = std::move(*sys);
    }
    ca_blob += "\n";
    ca_blob += *extra;
    curl_blob blob{ca_blob.data(), ca_blob.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
  } else if (system_ca) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, system_ca);
  }
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);

  char errbuf[CURL_ERROR_SIZE] = {0};
  Transfer t;
  t.max_body = options_.max_response_bytes;
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_response_bytes));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  // Proxies: libcurl reads http_proxy/https_proxy/no_proxy itself unless
  // CURLOPT_PROXY is set, which it never is here.
  if (request.bypass_proxy) curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");

  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) {
    std::string line = h.name + ": " + h.value;  // values may be secrets
    headers = curl_slist_append(headers, line.c_str());
    explicit_bzero(line.data(), line.size());
  }
  if (request.method == HttpMethod::post) {
    headers = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.reveal().data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

  const CURLcode rc = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  // Nothing may point at this request's memory once it returns.
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
  for (curl_slist* h = headers; h; h = h->next) explicit_bzero(h->data, std::strlen(h->data));
  curl_slist_free_all(headers);

  if (t.body_too_large || rc == CURLE_FILESIZE_EXCEEDED)
    return fail("response body larger than " + std::to_string(options_.max_response_bytes) + " bytes");
  if (t.headers_too_large) return fail("response headers larger than " + std::to_string(kMaxHeaderBytes) + " bytes");
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return fail("timed out after " + std::to_string(request.timeout.count()) + " ms");
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] ? std::string(trim(errbuf)) : curl_easy_strerror(rc);
    return fail(detail);
  }
  HttpResponse response;
  response.status = static_cast<int>(status);
  response.headers = std::move(t.headers);
  response.body = Secret(std::move(t.body));
  t.body.clear();
  return response;
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name.size() == name.size() &&
        std::equal(h.name.begin(), h.name.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return std::string_view(h.value);
  }
  return std::nullopt;
}

std::string percent_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3);
  append_percent_encoded(out, text);
  return out;
}

Secret form_encode(const std::vector<FormField>& fields) {
  std::size_t size = 0;
  for (const auto& f : fields) size += 3 * (f.name.size() + f.value.size()) + 2;
  std::string body;
  body.reserve(size);  // one allocation: no stray partial copies of secrets
  for (const auto& f : fields) {
    if (!body.empty()) body.push_back('&');
    append_percent_encoded(body, f.name);
    body.push_back('=');
    append_percent_encoded(body, f.value);
  }
  return Secret(std::move(body));
}

Secret form_encode(std::initializer_list<FormField> fields) {
  return form_encode(std::vector<FormField>(fields));
}

std::string redact_url(std::string_view url) {
  const auto cut = url.find_first_of("?#");
  std::string out(url.substr(0, cut));
  // user:password@ in the authority is a secret too.
  const auto scheme = out.find("://");
  const auto start = scheme == std::string::npos ? 0 : scheme + 3;
  const auto slash = out.find('/', start);
  const auto at = out.find('@', start);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) out.erase(start, at + 1 - start);
  return out;
}

}  // namespace tw
