// Fuzzes the JWT claims reader and base64url: an access token or a federated
// token is read before anything checks its signature, so any bytes must be
// refused cleanly, and base64url must round-trip every input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokenwell/agent/sources/entra/token_response.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto p = tw::parse_jwt_payload(input)) {
    if (!p->claims.is_object() || !p->header.is_object()) std::abort();
    (void)p->string_claim("oid");
  }
  if (auto decoded = tw::jose::base64url_decode(input)) {
    // Canonical base64url: decoding then encoding gives back the input.
    if (tw::jose::base64url_encode(*decoded) != input) std::abort();
  }
  if (tw::jose::base64url_decode(tw::jose::base64url_encode(input)) != std::optional<std::string>(std::string(input)))
    std::abort();
  return 0;
}
