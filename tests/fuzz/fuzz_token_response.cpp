// Fuzzes what an IdP's token endpoint or managed identity endpoint answers:
// the success parser and the checks before publishing (including the JWT
// inside), the OAuth2 error parser and its one-line description, and
// Retry-After. The body comes off the network; no body may crash the agent,
// and no description may carry a control character, run long, or keep a
// piece of a secret the agent sent.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tokenwell/agent/sources/entra/token_response.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  constexpr std::int64_t now = 1'700'000'000;

  if (auto r = tw::parse_token_response(body)) {
    auto c = tw::validate_token_response(std::move(*r), {}, now);
    if (c && (c->expires_at <= now || c->username.empty())) std::abort();
  }
  const std::string text = tw::describe_error_response(400, body, {"secret-value"});
  for (unsigned char ch : text)
    if (ch < 0x20 || ch == 0x7f) std::abort();
  if (text.find("secret-v") != std::string::npos) std::abort();  // not even a piece of it
  if (text.size() > 400) std::abort();  // status, code, AADSTS number, 200 bytes of description

  const tw::Clock::time_point t{std::chrono::seconds(now)};
  if (auto wait = tw::parse_retry_after(body, t); wait && (wait->count() < 0 || wait->count() > 86400)) std::abort();
  return 0;
}
