// value_origins.hpp -- which config published each credential value in the
// segment (internal to the app library), so a restarted agent takes over a
// value only when the entry's config is the same: a token fetched for
// another scope, tenant or client must not be served after a config change.
//
//   ValueOrigins origins(runtime_dir / "segment.origins");   // loads what is there
//   origins.record("redis", generation, config.fingerprint); // after each publish
//   if (origins.published_by("redis", slot.generation, config.fingerprint)) adopt(slot);
//
// The file holds, per credential, the generation last published and a hash
// of the config that published it (no secret; mode 0600), rewritten
// atomically when that changes. A generation that does not match the slot's
// (an agent killed between its publish and this write), a missing or
// unreadable file: nothing is taken over, the credential is fetched at once.
// Lives on the loop's thread, with the Publisher.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace tw {

class ValueOrigins {
 public:
  explicit ValueOrigins(std::filesystem::path file);

  void record(const std::string& name, std::uint64_t generation, std::string_view fingerprint);
  void forget(const std::string& name);
  bool published_by(const std::string& name, std::uint64_t generation, std::string_view fingerprint) const;

 private:
  struct Origin {
    std::uint64_t generation = 0;
    std::string config;  // hash of the fingerprint, hex
    bool operator==(const Origin&) const = default;
  };
  void save() const;

  std::filesystem::path file_;
  std::map<std::string, Origin> origins_;
};

}  // namespace tw
