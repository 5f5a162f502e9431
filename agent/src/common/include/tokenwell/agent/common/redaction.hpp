// redaction.hpp -- the one scrubber for text that may echo a secret.
//
// Whatever the agent puts into a log line or a status error that came from
// outside (an IdP's error description, a source's message) passes through
// here first. It removes:
//   - every secret the caller names (what the agent itself sent: the client
//     secret, the client assertion, the federated token, an issued token), in
//     each form the agent produces or an IdP echoes it in: raw, percent-
//     encoded as in an application/x-www-form-urlencoded body (the agent's
//     upper-case hex, lower-case hex, '+' for a space), base64 and base64url
//     (padded or not, at any alignment inside a longer encoding), JSON-escaped;
//   - a cut-off piece of one of those (at least kShortestSecretPiece bytes of
//     a secret's start): an echo the IdP truncated still leaks what it kept;
//   - anything JWT-shaped ("eyJ..." of base64url and dots), named or not.
//
//   std::string line = scrubbed_excerpt(description, 200, {secret.reveal()});
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tw {

inline constexpr std::string_view kRedacted = "[redacted]";
// Secrets shorter than this are not hunted (they would blank ordinary words).
inline constexpr std::size_t kShortestSecret = 4;
// The shortest start of a secret's form that counts as a leaked piece.
inline constexpr std::size_t kShortestSecretPiece = 8;

// The forms in which `secret` can appear in text (see above).
std::vector<std::string> secret_forms(std::string_view secret);

// `text` with every secret form, every piece of one, and every JWT-shaped
// run replaced by kRedacted. Does not shorten or fold anything else.
std::string scrub_secrets(std::string_view text, const std::vector<std::string_view>& secrets = {});

// One line of at most `max_bytes` (when cut: on a UTF-8 boundary, "..."
// added): scrubbed first, then control characters folded to single spaces,
// then cut, then scrubbed again so a secret's start (kShortestSecret bytes or
// more) left at the cut end is replaced too (the marker may add a few bytes).
std::string scrubbed_excerpt(std::string_view text, std::size_t max_bytes,
                             const std::vector<std::string_view>& secrets = {});

}  // namespace tw
