// credential_runner.hpp -- one credential's refresh loop: RefreshState's
// decisions (when to fetch, what to publish, how long to back off) run on a
// FetchCycle, and every new value goes to `on_fresh` (the agent's publisher).
//
//   auto runner = std::make_shared<CredentialRunner>(config, source,
//       CredentialRunner::Context{time, executor, random, metrics},
//       [&](const CredentialConfig& c, const FetchedCredential& v) { publisher.publish(c.name, v); });
//   runner->start();                     // the first fetch at once
//
// A file source is fetched again when its directory changes, not on a timer.
// After a restart the runner may be given the value the previous agent
// published (`adopted`): it serves it and refreshes it on its schedule
// instead of fetching at once, so readers keep its generation. A file source
// ignores it and reads its file (an unchanged file republishes nothing new).
// Lives on the loop's thread; the Context's objects must outlive it.
#pragma once

#include <functional>
#include <memory>

#include "tokenwell/agent/common/random_source.hpp"
#include "tokenwell/agent/common/timer.hpp"
#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/metrics/metrics.hpp"
#include "tokenwell/agent/refresh/entry_runner.hpp"
#include "tokenwell/agent/refresh/fetch_cycle.hpp"
#include "tokenwell/agent/refresh/refresh_state.hpp"
#include "tokenwell/agent/refresh/source.hpp"

namespace tw {

class CredentialRunner final : public EntryRunner {
 public:
  using OnFresh = std::function<void(const CredentialConfig&, const FetchedCredential&)>;
  struct Context {
    TimeSource& time;
    FetchExecutor& executor;
    RandomSource& random;  // jitter and backoff samples
    Metrics& metrics;
  };

  CredentialRunner(CredentialConfig config, std::shared_ptr<CredentialSource> source, Context context,
                   OnFresh on_fresh, std::optional<FetchedCredential> adopted = std::nullopt);

  void start() override;
  void stop() override { cycle_.stop(); }
  const std::string& name() const override { return config_.name; }
  EntryKind kind() const override { return EntryKind::credential; }
  const std::string& source() const override { return config_.source; }
  const std::string& fingerprint() const override { return config_.fingerprint; }
  std::optional<std::filesystem::path> watched_directory() const override;
  void on_directory_changed() override { cycle_.fetch_now(); }
  RefreshStatus refresh_status() const override;

  const CredentialConfig& config() const { return config_; }
  const RefreshState& state() const { return state_; }

 private:
  bool is_file() const { return std::holds_alternative<FileSourceConfig>(config_.settings); }
  void on_result(FetchResult<FetchedCredential> result, std::chrono::nanoseconds took);
  void schedule(TimePoint at);
  // Says in the log when and why a Retry-After was shortened.
  void log_retry_after_limit(const HonouredRetryAfter& honoured, TimePoint now) const;

  CredentialConfig config_;
  Context context_;
  RefreshState state_;
  OnFresh on_fresh_;
  std::optional<FetchedCredential> adopted_;  // until start()
  std::optional<TimePoint> last_success_;
  std::optional<TimePoint> next_attempt_;
  FetchCycle<FetchResult<FetchedCredential>> cycle_;
};

}  // namespace tw
