// credential_text.hpp -- what a value may look like before it goes into the
// segment, where clients put it into a Redis AUTH (or an HTTP Authorization
// header) as is: a token with a CR, LF or space in it would let whoever
// controls the value inject a command. Every source checks what it fetched
// here, and the config checks literal usernames.
//
//   if (auto r = check_bearer_token(token); !r) return fail("access_token: " + r.error().message);
//   if (auto r = check_username(oid); !r) return fail("claim 'oid': " + r.error().message);
//
// Errors say which character is wrong (its position and byte value) and
// never quote the value. Thread-safe (pure functions).
#pragma once

#include <cstddef>
#include <string_view>

#include "tokenwell/agent/common/result.hpp"

namespace tw {

inline constexpr std::size_t kMaxUsernameBytes = 256;  // TOKENWELL_USERNAME_MAX

// RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
Result<void> check_bearer_token(std::string_view token);

// A compact JWT: three base64url parts ([A-Za-z0-9_-], no padding) joined by dots.
Result<void> check_jwt_shape(std::string_view token);

// A secret read from a file (`source: file`): not empty, and no control
// character or whitespace anywhere in it.
Result<void> check_secret_text(std::string_view secret);

// A username: at most kMaxUsernameBytes, no control character or whitespace.
Result<void> check_username(std::string_view username);

}  // namespace tw
