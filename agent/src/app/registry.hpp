// registry.hpp -- the agent's runners by name, and the one diff that applies
// a config to them, credentials and keysets alike (internal to the app
// library): an entry whose kind and fingerprint are unchanged keeps running;
// a changed one is replaced (its value stays published until the new runner
// publishes); a removed one is stopped and its slot freed.
//
//   Registry registry(hooks);
//   registry.apply(config);                 // start-up: every entry is new
//   ... SIGHUP:  registry.apply(reloaded);  // only the differences
//
// Lives on the loop's thread.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "tokenwell/agent/config/config.hpp"
#include "tokenwell/agent/refresh/entry_runner.hpp"

namespace tw {

class Registry {
 public:
  // What the registry asks of the agent.
  class Hooks {
   public:
    virtual ~Hooks() = default;
    virtual std::shared_ptr<EntryRunner> make_runner(const CredentialConfig& config) = 0;
    virtual std::shared_ptr<EntryRunner> make_runner(const KeysetConfig& config) = 0;
    // Before start(): announce the entry, start its metrics, watch its directory.
    virtual void adding(EntryRunner& runner) = 0;
    // After stop(); `replaced`: a new runner of the same name follows.
    virtual void removed(const EntryRunner& runner, bool replaced) = 0;
  };

  explicit Registry(Hooks& hooks) : hooks_(hooks) {}
  ~Registry() { stop_all(); }

  void apply(const AgentConfig& config);
  void stop_all();

  EntryRunner* find(const std::string& name) const;
  const std::map<std::string, std::shared_ptr<EntryRunner>>& runners() const { return runners_; }
  // Every runner watching `dir` reads again.
  void on_directory_changed(const std::filesystem::path& dir);

 private:
  Hooks& hooks_;
  std::map<std::string, std::shared_ptr<EntryRunner>> runners_;
  bool started_ = false;  // the first apply is the start-up: not logged entry by entry
};

}  // namespace tw
