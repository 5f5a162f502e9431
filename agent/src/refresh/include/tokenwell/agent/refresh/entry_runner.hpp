// entry_runner.hpp -- what the agent's registry holds for each configured
// credential or keyset: something that keeps one entry's value fresh on the
// event loop and hands every new value to the publisher it was given.
//
//   std::shared_ptr<EntryRunner> r = make_runner(config);   // a CredentialRunner, a JWKS runner...
//   r->on_outcome([](bool ok) { ... });    // --once: each attempt's outcome
//   r->start();
//   ... a watched directory changed: if (r->watched_directory() == dir) r->on_directory_changed();
//   ... POST /v1/keysets/NAME/refresh:  RefetchReply reply = r->request_refetch();
//   ... GET /v1/credentials:  RefreshStatus s = r->refresh_status();
//   r->stop();
//
// The registry diffs a new config against the runners by name, kind and
// fingerprint (the entry's canonical JSON): an equal fingerprint means
// unchanged. Lives on the loop's thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tw {

enum class EntryKind { credential, keyset };

// The answer to a refetch request: accepted, or refused until retry_after has
// passed (a cooldown protects the IdP from a flood of requests).
struct RefetchReply {
  bool accepted = true;
  std::chrono::seconds retry_after{0};
};

// How an entry's refreshes are going, for `GET /v1/credentials` and
// `tokenwell status`. Never a secret: last_error is a source's own message
// (which names what failed and redacts what it sent) passed through
// status_error_text().
struct RefreshStatus {
  using TimePoint = std::chrono::system_clock::time_point;
  // The last attempt that produced a usable value (fetched, read or rotated),
  // or when an adopted value was published; nullopt: none in this run.
  std::optional<TimePoint> last_success;
  unsigned consecutive_failures = 0;  // attempts failed in a row since then
  std::string last_error;             // the last failure while failing; "" after a success
  // When the runner fetches (or rotates) next; nullopt: only when something
  // changes (a watched file) or nothing is due.
  std::optional<TimePoint> next_attempt;
};

// An error message as status shows it: scrubbed_excerpt() (common/
// redaction.hpp) of at most kStatusErrorBytes -- one line, any JWT-shaped
// text ("eyJ...", three base64url parts) replaced by "[redacted]", so
// whatever a source let through, no token reaches a caller.
inline constexpr std::size_t kStatusErrorBytes = 300;
std::string status_error_text(std::string_view message);

class EntryRunner {
 public:
  virtual ~EntryRunner() = default;

  virtual void start() = 0;
  // No more fetches or publishes; a fetch in flight is dropped on return.
  virtual void stop() = 0;

  virtual const std::string& name() const = 0;
  virtual EntryKind kind() const = 0;
  virtual const std::string& source() const = 0;       // its config `source`
  virtual const std::string& fingerprint() const = 0;

  // A directory whose changes mean "read again" (file sources, key_files).
  virtual std::optional<std::filesystem::path> watched_directory() const { return std::nullopt; }
  virtual void on_directory_changed() {}
  // Fetch again soon, if the runner's rules allow (keysets).
  virtual RefetchReply request_refetch() { return {false, std::chrono::seconds(0)}; }
  // The private JWK a keyset signs with now (POST /v1/keysets/NAME/sign),
  // valid until the runner's next publish; "" for verify-only keysets.
  virtual std::string_view signing_key() const { return {}; }
  virtual RefreshStatus refresh_status() const = 0;

  // Called after each attempt with whether it produced a usable value.
  void on_outcome(std::function<void(bool ok)> observer) { outcome_ = std::move(observer); }

 protected:
  void report(bool ok) {
    if (outcome_) outcome_(ok);
  }

 private:
  std::function<void(bool ok)> outcome_;
};

}  // namespace tw
