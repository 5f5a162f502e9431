// entra_test_support.hpp -- fakes and helpers shared by the entra tests:
// a scripted HttpClient, a counting RandomSource, temporary files, unsigned
// test JWTs and throw-away RSA certificates made with OpenSSL.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/jose/jose.hpp"
#include "support/test_util.hpp"
#include "tokenwell/agent/common/random_source.hpp"

namespace tw {
using jose::base64_encode;
using jose::base64url_decode;
using jose::base64url_encode;
}  // namespace tw

namespace tw::test {

inline void write_file(const std::filesystem::path& path, const std::string& data) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << data;
  }
  std::filesystem::rename(tmp, path);
}

// Kubernetes' atomic update of a mounted volume (the kubelet's
// AtomicWriter): the files in a fresh directory, the `..data` symlink
// swapped with rename(2), each file a symlink through it -- so all of them
// change at the same instant.
class ProjectedVolume {
 public:
  explicit ProjectedVolume(const std::filesystem::path& dir) : dir_(dir) {}
  std::filesystem::path path(const std::string& name) const { return dir_ / name; }
  void write(const std::map<std::string, std::string>& files) {
    const auto version = dir_ / ("..v" + std::to_string(++version_));
    std::filesystem::create_directory(version);
    for (const auto& [name, content] : files) write_file(version / name, content);
    const auto tmp_link = dir_ / "..data_tmp";
    std::filesystem::create_directory_symlink(version.filename(), tmp_link);
    std::filesystem::rename(tmp_link, dir_ / "..data");
    for (const auto& [name, content] : files)
      if (!std::filesystem::is_symlink(path(name)))
        std::filesystem::create_symlink(std::filesystem::path("..data") / name, path(name));
  }

 private:
  std::filesystem::path dir_;
  int version_ = 0;
};

// A volume with one file.
class ProjectedFile {
 public:
  ProjectedFile(const std::filesystem::path& dir, std::string name) : volume_(dir), name_(std::move(name)) {}
  std::filesystem::path path() const { return volume_.path(name_); }
  void write(const std::string& content) { volume_.write({{name_, content}}); }

 private:
  ProjectedVolume volume_;
  std::string name_;
};

// An HttpClient that records requests and answers from a script.
class FakeHttpClient final : public HttpClient {
 public:
  struct Recorded {
    HttpMethod method;
    std::string url;
    std::vector<HttpHeader> headers;
    std::string body;
  };

  void respond(int status, std::string body, std::vector<HttpHeader> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = Secret(std::move(body));
    r.headers = std::move(headers);
    script_.push_back(std::move(r));
  }
  void fail(std::string message) { script_.push_back(make_error(std::move(message))); }

  Result<HttpResponse> send(const HttpRequest& request) override {
    requests.push_back({request.method, request.url, request.headers, std::string(request.body.reveal())});
    if (script_.empty()) return make_error("FakeHttpClient: no scripted response");
    auto next = std::move(script_.front());
    script_.pop_front();
    return next;
  }

  std::vector<Recorded> requests;

 private:
  std::deque<Result<HttpResponse>> script_;
};

// Bytes 0, 1, 2, ... so assertion ids are predictable.
class CountingRandom final : public RandomSource {
 public:
  void fill(std::span<unsigned char> out) override {
    for (auto& b : out) b = static_cast<unsigned char>(next_++);
  }

 private:
  unsigned next_ = 0;
};

// An unsigned-but-well-formed JWT with these claims (the agent never checks
// signatures of access tokens, only their claims).
inline std::string make_jwt(const nlohmann::json& claims, const nlohmann::json& header = {{"alg", "RS256"},
                                                                                           {"typ", "JWT"}}) {
  return base64url_encode(header.dump()) + "." + base64url_encode(claims.dump()) + ".c2lnbmF0dXJl";
}

// Form body (a=b&c=d) decoded into a map (for checking requests).
inline std::map<std::string, std::string> parse_form(const std::string& body) {
  auto unescape = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(s[i] == '+' ? ' ' : s[i]);
      }
    }
    return out;
  };
  std::map<std::string, std::string> out;
  std::string_view rest(body);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    out[unescape(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : unescape(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

// A fresh key and a self-signed certificate for it, as PEM.
struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
  std::string der;
};

inline TestCertificate make_test_certificate(int bits = 2048, long valid_seconds = 3600, const char* key_type = "RSA") {
  // EVP_PKEY_Q_keygen's variadic argument is the bit count for RSA, the
  // curve name for EC.
  EVP_PKEY* key = std::string(key_type) == "EC" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), valid_seconds);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("tokenwell-test"), -1,
                             -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());

  TestCertificate out;
  auto to_pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return s;
  };
  out.cert_pem = to_pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
  out.key_pem = to_pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  const int len = i2d_X509(x, nullptr);
  out.der.resize(static_cast<std::size_t>(len));
  auto* p = reinterpret_cast<unsigned char*>(out.der.data());
  i2d_X509(x, &p);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

}  // namespace tw::test
