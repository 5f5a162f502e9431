// jwt_library.hpp -- libtokenwell-jwt, loaded with dlopen the first time a
// `jwt` subcommand needs it. Only `jwt sign` and `jwt verify` use it, so
// get/wait/list/exec/jwks run in an app image that has neither the library
// nor OpenSSL's libcrypto (bookworm-slim has no libssl3): such an image
// copies only bin/tokenwell and libtokenwell.so.0 (docs/app-images.md).
//
//   const JwtLibrary& jwt = jwt_library("jwt sign");  // throws Failure if absent
//   int rc = jwt.sign(tw, "sessions", claims, 300, buf, size, &len);
#pragma once

#include <string_view>

#include "tokenwell/jwt.h"

namespace tw::cli {

// The functions of tokenwell/jwt.h the CLI calls, resolved from the library.
struct JwtLibrary {
  decltype(&tokenwell_jwt_strerror) strerror;
  decltype(&tokenwell_jwt_sign) sign;
  decltype(&tokenwell_jwt_verify) verify;
};

// The file dlopen looks for: the soname, found through the CLI's RUNPATH
// ($ORIGIN/../lib), LD_LIBRARY_PATH or the ld.so cache.
inline constexpr const char* kJwtLibraryFile = "libtokenwell-jwt.so.0";

// Loads the library once (thread-safe). If it or its dependencies cannot be
// loaded, throws Failure{kUnavailable} naming `command`, dlerror()'s reason
// and what to install.
const JwtLibrary& jwt_library(std::string_view command);

}  // namespace tw::cli
