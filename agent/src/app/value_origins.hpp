// value_origins.hpp -- which config published each credential value in the
// segment (internal to the app library), so a restarted agent takes over a
// value only when the entry's config is the same: a token fetched for
// another scope, tenant or client must not be served after a config change.
//
//   ValueOrigins origins(runtime_dir / "segment.origins");  // loads what is there
//   if (origins.published_by("redis", config.fingerprint)) adopt(slot);
//   else origins.forget("redis");                          // before fetching anew
//   origins.record("redis", config.fingerprint);           // after each publish
//
// The file holds, per credential, a hash of the config that published its
// value (no secret; mode 0600), rewritten atomically when that changes --
// never while a config keeps publishing, so a kill at any point leaves it
// true: a value whose config was not recorded yet (killed between the first
// publish under a new config and this write) has no origin, and is fetched
// at once. A missing or unreadable file: nothing is taken over.
// Lives on the loop's thread, with the Publisher.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace tw {

class ValueOrigins {
 public:
  explicit ValueOrigins(std::filesystem::path file);

  void record(const std::string& name, std::string_view fingerprint);
  void forget(const std::string& name);
  bool published_by(const std::string& name, std::string_view fingerprint) const;

 private:
  void save() const;

  std::filesystem::path file_;
  std::map<std::string, std::string> origins_;  // name -> hash of the fingerprint, hex
};

}  // namespace tw
