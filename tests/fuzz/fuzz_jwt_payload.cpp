// Fuzzes the JWT claims reader and base64url: an access token or a federated
// token is read before anything checks its signature, so any bytes must be
// refused cleanly, and base64url must round-trip every input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokenwell/agent/common/jwt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto p = tw::parse_jwt_payload(input)) {
    if (!p->claims.is_object() || !p->header.is_object()) std::abort();
    (void)p->string_claim("oid");
  }
  if (auto decoded = tw::base64url_decode(input)) {
    // Decoding then encoding gives back the input up to its unused low bits.
    if (tw::base64url_encode(*decoded).size() != input.size()) std::abort();
  }
  if (tw::base64url_decode(tw::base64url_encode(input)) != std::optional<std::string>(std::string(input)))
    std::abort();
  return 0;
}
