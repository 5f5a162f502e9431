// entra_source.hpp -- the `entra` and `oauth2` credential sources: one
// client-credentials token request (or one managed identity request) per
// fetch(), the token validated before it is returned.
//
//   CurlHttpClient http({.ca_file = config.ca_file});
//   SystemClock clock;
//   OsRandomSource random;
//   auto source = make_entra_source(config, {.http = http, .clock = clock, .random = random,
//                                            .timeout = std::chrono::seconds(10)});
//   FetchResult<FetchedCredential> r = source->fetch();   // FetchedCredential or FetchError
//
// Files named by the config are read by fetch(), not here: a federated token
// file before every request, a secret or certificate file when it changed
// (device, inode, size, mtime or ctime), so rotation needs no restart. A
// FetchError carries the IdP's error (e.g. "HTTP 401 invalid_client:
// AADSTS7000215: ..."), the status, and Retry-After on 429/503; never a
// secret, an assertion or a token.
//
// The context's objects must outlive the source. A source is used by one
// thread at a time (CredentialSource's contract).
#pragma once

#include <chrono>
#include <memory>

#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/config/entra_config.hpp"
#include "tokenwell/agent/http/http_client.hpp"
#include "tokenwell/agent/common/random_source.hpp"
#include "tokenwell/agent/refresh/source.hpp"
#include "tokenwell/agent/sources/entra/token_response.hpp"

namespace tw {

struct SourceContext {
  HttpClient& http;
  const Clock& clock;
  RandomSource& random;                      // client assertion jti
  std::chrono::milliseconds timeout{10'000};  // per request (refresh.timeout)
  TokenChecks checks = {};
};

std::unique_ptr<CredentialSource> make_entra_source(const EntraConfig& config, const SourceContext& context);
std::unique_ptr<CredentialSource> make_oauth2_source(const OAuth2Config& config, const SourceContext& context);

// For --check-config: the files a parsed config names are readable now and,
// for a certificate, hold a usable certificate and key
// ("credentials[0].auth.secret_file: file not readable (/s)").
Result<void> check_files(const EntraConfig& config, const std::string& path);
Result<void> check_files(const OAuth2Config& config, const std::string& path);

}  // namespace tw
