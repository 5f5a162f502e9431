// source.hpp -- where credentials come from: the interface every source
// (file, entra, oauth2, managed identity) implements for the refresh engine.
//
//   class FileSource final : public CredentialSource { ... };
//   Result<FetchedCredential> c = source.fetch();   // blocking; on a worker thread
//
// A source does one fetch per call and never retries by itself: scheduling,
// backoff and Retry-After belong to the refresh engine. Implementations must
// be safe to call from one worker thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "tokenwell/agent/common/result.hpp"
#include "tokenwell/agent/common/secret.hpp"

namespace tw {

// A credential as a source fetched it (the client shim calls what it reads
// back tw::Credential, in tokenwell.hpp).
struct FetchedCredential {
  Secret token;                 // what goes into AUTH as the password
  std::string username;         // e.g. the token's oid claim
  std::int64_t issued_at = 0;   // unix seconds
  std::int64_t expires_at = 0;  // unix seconds; 0 = does not expire
  std::optional<std::int64_t> refresh_in;  // IdP's hint, seconds after issue
};

// Why a fetch failed, for the engine's decision and for logs (no secrets).
struct FetchError {
  std::string message;
  std::optional<std::chrono::seconds> retry_after;  // 429/503 Retry-After
  int http_status = 0;                              // 0: no HTTP response
};

template <typename T>
using FetchResult = std::variant<T, FetchError>;

class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  virtual FetchResult<FetchedCredential> fetch() = 0;
};

}  // namespace tw
