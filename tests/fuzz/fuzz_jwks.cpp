// Fuzzes what a JWKS source answers: the JWKS document (every key through
// the JWK checks), the OIDC discovery document and Cache-Control. The bytes
// come off the network; none may crash the agent, a published set never
// carries a private member, and an accepted set always has a usable key.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokenwell/agent/keysets/jwk.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  if (auto doc = tw::parse_jwks(body)) {
    if (doc->keys.empty()) std::abort();
    for (const auto& key : doc->keys) {
      if (key.can_sign() || key.public_jwk.contains("d") || key.kid.empty() || key.alg.empty()) std::abort();
      // What the agent republishes parses again to the same keys.
      std::vector<nlohmann::json> pub{key.public_jwk};
      auto again = tw::parse_jwks(tw::jwks_json(pub));
      if (!again || again->keys.size() != 1 || again->keys[0].public_jwk != key.public_jwk) std::abort();
    }
  }
  if (auto uri = tw::parse_discovery(body, "https://issuer.example"); uri && !uri->starts_with("https://"))
    std::abort();
  if (auto age = tw::cache_control_max_age(body); age && age->count() < 0) std::abort();
  return 0;
}
