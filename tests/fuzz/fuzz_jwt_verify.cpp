// Fuzzes JWT verification end to end: header, payload and signature parsing,
// the RFC 8725 checks, and JWKS parsing. An input "JWKS\ntoken" is verified
// against its own JWKS; an input without a newline is a token verified
// against a fixed keyset (ES256, RS256, EdDSA test keys; a keyset never mixes
// an HMAC key with public keys) so the
// fuzzer can reach the signature checks. Nothing may crash, and anything that
// verifies must come with a JSON object of claims.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenwell/jose/jose.hpp"
#include "tokenwell/jwt.h"

namespace {

// The public half of tests/jwt/test_keys.json.
constexpr std::string_view kFixedJwks = R"({"keys":[{"kty":"EC","kid":"es-1","alg":"ES256","use":"sig","crv":"P-256","x":"8FaGo8f0rVPUHBjZGQIu_n-XodfO-TbgbKyEVYLvShU","y":"aNgXWnd-0QRcHmIeY_FCgtj6HdfyLSPeAGStqoPg8G8"},{"kty":"RSA","kid":"rs-1","alg":"RS256","use":"sig","n":"5U0bSM-u4vcYezm9w9HQOvRcZ01AzjcJINJAlQUa0WMQj2fG_NTA70MQz1Mu8ZY4uXN_IgNO6c9YKqIC9iBDouckjQdjaAGM0VUKUo7zFeU3Z-0HPZ6WyRwWrRJr_vyc7JYjaINKPl5AhV3IvRJYLFk0pBSu-wxaPU7IN_KE_UQ1QRZ7zovT6wQrAArBDDjtk8WKrSaoQvPbpUS0a18hT-vKtLNHsAOjOjIj2v4IrZtvxG8_JO4SO0LsspJrFv3vYXZE3JaA0pzdIIfZXBj8IPz3KLTrDJyrCGlVKciFrqngpyDFedBLktfzYp2ZGLb9BCnDYeIhEfqlSrk2txAH1Q","e":"AQAB"},{"kty":"OKP","kid":"ed-1","alg":"EdDSA","use":"sig","crv":"Ed25519","x":"VNtzf71AdOu3jyvYnPJnA3BPGtDgskAKjDnZNZu28HE"}]})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string jwks(newline == std::string_view::npos ? kFixedJwks : input.substr(0, newline));
  const std::string token(newline == std::string_view::npos ? input : input.substr(newline + 1));

  tokenwell_jwt_verify_options opts = {sizeof opts, "api", nullptr, -1, 1700000000};
  char claims[TOKENWELL_JWT_TOKEN_MAX];
  std::size_t len = 0;
  const int rc = tokenwell_jwt_verify_jwks(jwks.c_str(), token.c_str(), &opts, claims, sizeof claims, &len);
  if (rc == TOKENWELL_OK && !nlohmann::json::parse(std::string(claims, len)).is_object()) std::abort();
  if (rc != TOKENWELL_OK && tokenwell_jwt_strerror(rc) == nullptr) std::abort();

  // Canonical base64url: whatever decodes encodes back to the same text.
  if (auto decoded = tw::jose::base64url_decode(input)) {
    if (tw::jose::base64url_encode(*decoded) != input) std::abort();
  }
  return 0;
}
