// backend.hpp -- what the socket API and the health listener ask of the
// agent: its entries, a credential's current value, a keyset's JWKS, a
// keyset refresh, a JWT signed with a keyset's key and readiness. The agent implements it over its own state;
// tests implement it with a fake.
//
//   class AgentApiBackend final : public ApiBackend { ... };
//   auto api = SocketApi::open(io, {.path = dir / "agent.sock"}, backend, metrics);
//   ... after every publish: (*api)->notify_published();
//
// Called only on the io_context's thread that runs the listeners, so an
// implementation needs no locks when the agent's state lives on that thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tokenwell/agent/common/secret.hpp"

namespace tw {

class ApiBackend {
 public:
  enum class Kind { credential, keyset };

  // valid: has a value that has not expired; expired: its last value expired
  // (refreshes keep failing); pending: nothing fetched yet.
  enum class State { valid, expired, pending };

  // One credential or keyset as `GET /v1/credentials` lists it: no secret.
  struct Entry {
    std::string name;
    Kind kind = Kind::credential;
    std::string username;         // credentials; empty for keysets
    State state = State::pending;
    std::int64_t expires_at = 0;  // unix seconds; 0 = none or never
    std::uint64_t generation = 0; // the segment's generation of the entry
    std::string source;           // its config `source`: "entra", "jwks", ...
    // How its refreshes go (`tokenwell status`); unix seconds, 0 = none.
    std::int64_t last_refresh = 0;     // the last successful refresh (or publication)
    std::string last_error;            // the last failure while failing, bounded; never a secret
    unsigned consecutive_failures = 0; // failed attempts in a row
    std::int64_t next_attempt = 0;     // the next scheduled fetch or rotation
  };

  // A credential's current value, for `GET /v1/credentials/NAME` only.
  struct CredentialValue {
    std::string username;
    Secret token;
    std::int64_t expires_at = 0;
    std::uint64_t generation = 0;
  };

  // Why there is no value to return.
  enum class Missing {
    unknown_name,    // no credential (or keyset) of that name: 404
    no_valid_value,  // known, but pending or expired: 503
  };
  template <typename T>
  using Lookup = std::variant<T, Missing>;

  enum class RefreshAnswer { accepted, rate_limited, unknown_name };
  struct RefreshReply {
    RefreshAnswer answer = RefreshAnswer::accepted;
    std::chrono::seconds retry_after{0};  // rate_limited: when to ask again
  };

  // POST /v1/keysets/NAME/sign.
  enum class SignAnswer {
    signed_token,    // token holds the compact JWS: 200
    unknown_name,    // no keyset of that name: 404
    no_value,        // a key_files or generated keyset not loaded yet (pending): 503
    no_signing_key,  // a verify-only keyset (jwks, key_files without a private key): 409
    bad_claims,      // error names what is wrong with the claims: 400
    failed,          // the keyset's own key cannot sign (error says why): 500
  };
  struct SignReply {
    SignAnswer answer = SignAnswer::failed;
    Secret token;
    std::string error;  // never the claims or a key
  };

  // Why the agent is not ready, one line per entry that holds it back.
  struct NotReady {
    std::string name;    // the entry's name
    std::string reason;  // e.g. "no valid value yet"; never a secret
  };
  struct Readiness {
    bool ready = false;
    std::vector<NotReady> reasons;
  };

  virtual ~ApiBackend() = default;

  // Every credential and keyset, in a stable order.
  virtual std::vector<Entry> entries() const = 0;

  // The current value of the credential `name` (keysets are unknown here).
  virtual Lookup<CredentialValue> credential(std::string_view name) const = 0;

  // The public JWKS JSON document of the keyset `name`.
  virtual Lookup<std::string> jwks(std::string_view keyset) const = 0;

  // Asks for the keyset `name` to be fetched again soon; the agent decides
  // whether it is too soon after the previous refresh.
  virtual RefreshReply request_keyset_refresh(std::string_view keyset) = 0;

  // Signs `claims_json` (one JSON object) with the keyset's current signing
  // key; exp = now + ttl_seconds unless the claims have an exp.
  virtual SignReply sign(std::string_view keyset, std::string_view claims_json, std::int64_t ttl_seconds) = 0;

  virtual Readiness readiness() const = 0;
};

}  // namespace tw
