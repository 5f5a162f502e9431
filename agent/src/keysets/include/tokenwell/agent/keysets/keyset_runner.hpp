// keyset_runner.hpp -- one keyset's loop on the agent's io_context (internal
// to tokenwell::agent). The decisions live in the pure classes
// (JwksRefreshState, KeyRotation, load_key_files); a runner only owns the
// timer, the worker thread of a JWKS fetch and the directory watch, and hands
// every new value to `on_value`, which publishes it.
//
//   auto runner = make_keyset_runner(io, config, clock, metrics, in_flight, previous, publish);
//   runner->start();
//   ... POST /v1/keysets/NAME/refresh: runner->request_refresh();
//
// Lives on the loop's thread; not thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "tokenwell/agent/metrics/metrics.hpp"
#include "tokenwell/agent/common/clock.hpp"
#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/common/secret.hpp"

namespace tw {

// What a keyset publishes (docs/segment-format.md): the public JWKS, and the
// active private JWK for signing keysets.
struct KeysetValue {
  std::string jwks;
  Secret signing_key;
  std::size_t keys = 0;
};

// The answer to a refetch request: accepted, or refused until retry_after has
// passed (the cooldown protects the IdP from a flood of unknown kids).
struct RefetchReply {
  bool accepted = true;
  std::chrono::seconds retry_after{0};
};

class KeysetRunner {
 public:
  using OnValue = std::function<void(const KeysetConfig&, const KeysetValue&)>;
  virtual ~KeysetRunner() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  // A verifier met an unknown kid: refetch if the cooldown allows.
  virtual RefetchReply request_refresh() = 0;
  // The directory to watch (key_files), if any, and its change events.
  virtual std::optional<std::filesystem::path> watched_directory() const { return std::nullopt; }
  virtual void on_directory_changed() {}
  const KeysetConfig& config() const { return config_; }

 protected:
  explicit KeysetRunner(KeysetConfig config) : config_(std::move(config)) {}
  KeysetConfig config_;
};

// `previous`: the value this keyset had in the segment before a restart
// (generated keysets adopt their keys from it).
std::shared_ptr<KeysetRunner> make_keyset_runner(boost::asio::io_context& io, KeysetConfig config,
                                                 const Clock& clock, Metrics& metrics,
                                                 std::atomic<int>& fetches_in_flight,
                                                 std::optional<KeysetValue> previous,
                                                 KeysetRunner::OnValue on_value);

// One fetch / load / generation, for --once.
Result<KeysetValue> load_keyset_once(const KeysetConfig& config, const Clock& clock,
                                     std::optional<KeysetValue> previous);

}  // namespace tw
