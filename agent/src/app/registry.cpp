// registry.cpp -- see registry.hpp.
#include "registry.hpp"

#include <vector>

#include "tokenwell/agent/common/log.hpp"

namespace tw {
namespace {

const char* kind_name(EntryKind kind) { return kind == EntryKind::keyset ? "keyset" : "credential"; }

// One wanted entry of the config, whatever its kind.
struct Wanted {
  std::string name;
  EntryKind kind;
  const std::string* fingerprint;
  std::function<std::shared_ptr<EntryRunner>()> make;
};

}  // namespace

void Registry::apply(const AgentConfig& config) {
  std::vector<Wanted> wanted;
  for (const auto& c : config.credentials)
    wanted.push_back({c.name, EntryKind::credential, &c.fingerprint, [&] { return hooks_.make_runner(c); }});
  for (const auto& k : config.keysets)
    wanted.push_back({k.name, EntryKind::keyset, &k.fingerprint, [&] { return hooks_.make_runner(k); }});

  std::map<std::string, const Wanted*> by_name;
  for (const auto& w : wanted) by_name[w.name] = &w;
  for (auto it = runners_.begin(); it != runners_.end();) {
    if (by_name.count(it->first)) {
      ++it;
      continue;
    }
    const auto runner = it->second;
    it = runners_.erase(it);
    runner->stop();
    hooks_.removed(*runner, /*replaced=*/false);
    log::info(std::string(kind_name(runner->kind())) + " removed", {{kind_name(runner->kind()), runner->name()}});
  }
  for (const auto& w : wanted) {
    auto it = runners_.find(w.name);
    if (it != runners_.end() && it->second->kind() == w.kind && it->second->fingerprint() == *w.fingerprint)
      continue;
    const bool changed = it != runners_.end();
    if (changed) {
      const auto old = it->second;
      runners_.erase(it);
      old->stop();
      // Its value stays published until the new runner's replaces it; an
      // entry that changed kind loses its slot first.
      hooks_.removed(*old, /*replaced=*/old->kind() == w.kind);
    }
    auto runner = w.make();
    hooks_.adding(*runner);
    runners_[w.name] = runner;
    runner->start();
    if (started_)
      log::info(std::string(kind_name(w.kind)) + (changed ? " changed" : " added"), {{kind_name(w.kind), w.name}});
  }
  started_ = true;
}

void Registry::stop_all() {
  for (auto& [name, runner] : runners_) runner->stop();
}

EntryRunner* Registry::find(const std::string& name) const {
  auto it = runners_.find(name);
  return it == runners_.end() ? nullptr : it->second.get();
}

void Registry::on_directory_changed(const std::filesystem::path& dir) {
  // A copy: a runner's reaction may not change the map, but stay safe.
  const auto runners = runners_;
  for (const auto& [name, runner] : runners)
    if (runner->watched_directory() == dir) runner->on_directory_changed();
}

}  // namespace tw
