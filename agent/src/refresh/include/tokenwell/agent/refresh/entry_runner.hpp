// entry_runner.hpp -- what the agent's registry holds for each configured
// credential or keyset: something that keeps one entry's value fresh on the
// event loop and hands every new value to the publisher it was given.
//
//   std::shared_ptr<EntryRunner> r = make_runner(config);   // a CredentialRunner, a JWKS runner...
//   r->on_outcome([](bool ok) { ... });    // --once: each attempt's outcome
//   r->start();
//   ... a watched directory changed: if (r->watched_directory() == dir) r->on_directory_changed();
//   ... POST /v1/keysets/NAME/refresh:  RefetchReply reply = r->request_refetch();
//   r->stop();
//
// The registry diffs a new config against the runners by name, kind and
// fingerprint (the entry's canonical JSON): an equal fingerprint means
// unchanged. Lives on the loop's thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>

namespace tw {

enum class EntryKind { credential, keyset };

// The answer to a refetch request: accepted, or refused until retry_after has
// passed (a cooldown protects the IdP from a flood of requests).
struct RefetchReply {
  bool accepted = true;
  std::chrono::seconds retry_after{0};
};

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
